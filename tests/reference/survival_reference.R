# Reference values for tests/models/test_survival.py.
# Run from the repository root:  Rscript tests/reference/survival_reference.R
# Input : tests/reference/episodes_survival.csv (written by tests/models/test_survival.py; time in
#         days, status 0 censored / 1 planned / 2 unplanned ending, group family/institution)
# Output: tests/reference/survival_*.csv and survival_reference_versions.json
library(survival)
library(cmprsk)

dir <- "tests/reference"
d <- read.csv(file.path(dir, "episodes_survival.csv"), stringsAsFactors = FALSE)
d$event <- as.integer(d$status > 0)
out <- function(x, name) write.csv(x, file.path(dir, name), row.names = FALSE)

# --- Kaplan-Meier, Greenwood SE, log-log CI -------------------------------------------
km_table <- function(fit, group = NA) {
  s <- summary(fit, censored = TRUE)
  data.frame(group = if (is.null(s$strata)) group else sub("group=", "", as.character(s$strata)),
             time = s$time, n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
             estimate = s$surv, se = s$std.err, ci_lower = s$lower, ci_upper = s$upper)
}
fit <- survfit(Surv(time, event) ~ 1, data = d, conf.type = "log-log")
fitg <- survfit(Surv(time, event) ~ group, data = d, conf.type = "log-log")
out(rbind(km_table(fit), km_table(fitg)), "survival_km.csv")

q <- quantile(fit, probs = c(0.25, 0.5, 0.75), conf.int = FALSE)
qg <- quantile(fitg, probs = c(0.25, 0.5, 0.75), conf.int = FALSE)
out(data.frame(group = c(NA, sub("group=", "", rownames(qg))),
               q25 = c(q[1], qg[, 1]), q50 = c(q[2], qg[, 2]), q75 = c(q[3], qg[, 3])),
    "survival_km_quantiles.csv")

# Flat stretch at exactly S = 0.5 (R averages the two times) and a tiny tied example.
tiny <- data.frame(time = c(1, 2, 2, 3, 4, 4, 5, 6), event = c(1, 1, 0, 1, 1, 1, 0, 1))
ft <- survfit(Surv(time, event) ~ 1, data = tiny, conf.type = "log-log")
out(km_table(ft), "survival_km_tiny.csv")
flat <- data.frame(time = c(1, 2, 3, 4), event = c(1, 1, 1, 1))
qf <- quantile(survfit(Surv(time, event) ~ 1, data = flat), probs = c(0.25, 0.5, 0.75),
               conf.int = FALSE)
out(data.frame(q25 = qf[1], q50 = qf[2], q75 = qf[3]), "survival_km_quantiles_flat.csv")

# --- log-rank --------------------------------------------------------------------------
sd <- survdiff(Surv(time, event) ~ group, data = d)
out(data.frame(statistic = sd$chisq, df = length(sd$n) - 1,
               p_value = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE)),
    "survival_logrank.csv")

# --- cumulative incidence (cmprsk::cuminc, Aalen/delta-method variance) -----------------
times <- sort(unique(d$time))
ci_table <- function(ci, cause) {
  rows <- list()
  tp <- timepoints(ci, times)
  for (nm in rownames(tp$est)) {
    parts <- strsplit(nm, " ")[[1]]
    if (parts[length(parts)] != as.character(cause)) next
    grp <- if (length(parts) == 1) NA else paste(parts[-length(parts)], collapse = " ")
    est <- tp$est[nm, ]; v <- tp$var[nm, ]
    rows[[nm]] <- data.frame(group = grp, time = times, estimate = est, var = v)
  }
  do.call(rbind, rows)
}
ci1 <- cuminc(d$time, d$status, cencode = 0)
cig <- cuminc(d$time, d$status, group = d$group, cencode = 0)
# Without a group, cuminc names curves "1 1", "1 2": drop the dummy group "1".
r1 <- ci_table(ci1, 2); r1$group <- NA
out(rbind(r1, ci_table(cig, 2)), "survival_cuminc_cause2.csv")
r1 <- ci_table(ci1, 1); r1$group <- NA
out(r1, "survival_cuminc_cause1.csv")

# --- versions -------------------------------------------------------------------------
writeLines(sprintf('{"R": "%s", "survival": "%s", "cmprsk": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survival")),
                   as.character(packageVersion("cmprsk")), R.version$platform),
           file.path(dir, "survival_reference_versions.json"))
