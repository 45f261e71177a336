# Reference values for the quantile CIs, RMST and Gray's test in tests/models/test_survival.py.
# Run from the repository root:  Rscript tests/reference/survival_extra_reference.R
# Input : tests/reference/episodes_survival.csv  (time, status 0/1/2, group family/institution)
#         tests/reference/episodes_placement.csv (time, status 0/1/2, placement family/hvb/other)
#         tests/reference/rossi_survival.csv     (week, arrest, fin from lifelines' load_rossi;
#                                                 read from our CSV, not carData's Rossi)
#         all written by `.venv/bin/python -m tests.models.test_survival`.
# Output: tests/reference/survival_extra_*.csv and survival_extra_reference_versions.json
library(survival)
library(cmprsk)

dir <- "tests/reference"
rd <- function(name) read.csv(file.path(dir, name), stringsAsFactors = FALSE)
out <- function(x, name) write.csv(x, file.path(dir, name), row.names = FALSE)
ep <- rd("episodes_survival.csv")
ep$event <- as.integer(ep$status > 0)
pl <- rd("episodes_placement.csv")
pl$event <- as.integer(pl$status > 0)
rossi <- rd("rossi_survival.csv")
tiny <- data.frame(time = c(1, 2, 2, 3, 4, 4, 5, 6), event = c(1, 1, 0, 1, 1, 1, 0, 1))
flat <- data.frame(time = c(1, 2, 3, 4), event = c(1, 1, 1, 1))
none <- data.frame(time = c(1, 2, 2, 3), event = c(0, 0, 0, 0))

# Our Python code uses conf.type = "log-log" (see kaplan_meier); so must R here.
km <- function(formula, data, level = 0.95)
  survfit(formula, data = data, conf.type = "log-log", conf.int = level)
fits <- list(
  episodes = km(Surv(time, event) ~ 1, ep),
  episodes_group = km(Surv(time, event) ~ group, ep),
  episodes_level90 = km(Surv(time, event) ~ 1, ep, level = 0.90),
  placement = km(Surv(time, event) ~ placement, pl),
  rossi = km(Surv(week, arrest) ~ 1, rossi),
  rossi_fin = km(Surv(week, arrest) ~ fin, rossi),
  tiny = km(Surv(time, event) ~ 1, tiny),
  flat = km(Surv(time, event) ~ 1, flat),
  none = km(Surv(time, event) ~ 1, none)
)
strip <- function(x) sub("^[^=]*=", "", x)

# --- quantiles with CI: quantile(fit, conf.int = TRUE) ---------------------------------
probs <- c(0, 0.1, 0.25, 0.5, 0.75, 0.9)
qrows <- list()
for (nm in names(fits)) {
  q <- quantile(fits[[nm]], probs = probs, conf.int = TRUE)
  if (is.matrix(q$quantile)) {
    for (i in seq_len(nrow(q$quantile)))
      qrows[[length(qrows) + 1]] <- data.frame(
        data = nm, group = strip(rownames(q$quantile)[i]), quantile = probs,
        estimate = q$quantile[i, ], ci_lower = q$lower[i, ], ci_upper = q$upper[i, ])
  } else {
    qrows[[length(qrows) + 1]] <- data.frame(
      data = nm, group = NA, quantile = probs, estimate = q$quantile,
      ci_lower = q$lower, ci_upper = q$upper)
  }
}
out(do.call(rbind, qrows), "survival_extra_quantiles.csv")

# --- RMST: summary(fit, rmean = tau)$table[, c("rmean", "se(rmean)")] -------------------
# (summary.survfit refuses a tau below the first time; there RMST = tau, SE 0, tested by hand)
taus <- list(episodes = c(365, 584, 1209, 1500), episodes_group = c(365, 584, 1209, 1500),
             placement = c(365, 730), rossi = c(26, 30.5, 52), rossi_fin = c(26, 30.5, 52),
             tiny = c(2, 3.5, 6, 8))
rrows <- list()
crows <- list()
z <- qnorm(0.975)
for (nm in names(taus)) {
  for (tau in taus[[nm]]) {
    tab <- summary(fits[[nm]], rmean = tau)$table
    if (!is.matrix(tab)) tab <- matrix(tab, nrow = 1, dimnames = list(NA, names(tab)))
    grp <- if (is.na(rownames(tab)[1])) NA else strip(rownames(tab))
    rrows[[length(rrows) + 1]] <- data.frame(data = nm, group = grp, tau = tau,
                                             estimate = tab[, "rmean"],
                                             se = tab[, "se(rmean)"])
    if (nrow(tab) > 1) {
      # Contrasts against the first group, as survRM2::rmst2 (not installed): difference
      # with sqrt of summed variances, ratio by the delta method on the log scale.
      m <- tab[, "rmean"]; s <- tab[, "se(rmean)"]
      for (i in 2:nrow(tab)) {
        d <- m[i] - m[1]; sd <- sqrt(s[i]^2 + s[1]^2)
        lr <- log(m[i] / m[1]); sr <- sqrt((s[i] / m[i])^2 + (s[1] / m[1])^2)
        crows[[length(crows) + 1]] <- data.frame(
          data = nm, tau = tau, group = grp[i], reference = grp[1],
          contrast = c("difference", "ratio"), estimate = c(d, exp(lr)), se = c(sd, sr),
          ci_lower = c(d - z * sd, exp(lr - z * sr)), ci_upper = c(d + z * sd, exp(lr + z * sr)),
          p_value = 2 * pnorm(-abs(c(d / sd, lr / sr))))
      }
    }
  }
}
out(do.call(rbind, rrows), "survival_extra_rmst.csv")
out(do.call(rbind, crows), "survival_extra_rmst_contrast.csv")

# --- Gray's test: cuminc(time, status, group, rho = rho, cencode = 0)$Tests --------------
grows <- list()
gray <- function(nm, time, status, group, rho) {
  tests <- cuminc(time, status, group, rho = rho, cencode = 0)$Tests
  grows[[length(grows) + 1]] <<- data.frame(data = nm, rho = rho,
                                            cause = as.numeric(rownames(tests)),
                                            statistic = tests[, "stat"],
                                            p_value = tests[, "pv"], df = tests[, "df"])
}
for (rho in c(0, 1)) gray("episodes_group", ep$time, ep$status, ep$group, rho)
for (rho in c(0, 0.5)) gray("placement", pl$time, pl$status, pl$placement, rho)
gray("rossi_fin", rossi$week, rossi$arrest, rossi$fin, 0)
out(do.call(rbind, grows), "survival_extra_gray.csv")

# --- versions -------------------------------------------------------------------------
writeLines(sprintf('{"R": "%s", "survival": "%s", "cmprsk": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survival")),
                   as.character(packageVersion("cmprsk")), R.version$platform),
           file.path(dir, "survival_extra_reference_versions.json"))
