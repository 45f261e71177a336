# Reference values for tests/models/test_cox.py (Cox proportional hazards, Efron ties).
# Run from the repository root:  Rscript tests/reference/cox_reference.R
# Simulates a small episode data set (set.seed(11); integer-day times so that event times
# tie; about a third of children have two episodes), writes it to
# tests/reference/cox_data.csv, fits the models below and writes
#   tests/reference/cox_coef.csv (model, term, coef, se, robust_se, loglik, n, n_event)
#   tests/reference/cox_versions.json
# Columns of cox_data.csv: child (cluster id), entry (start of follow-up, days), stop (end,
# days), status (0 censored / 1 planned / 2 unplanned ending), x1 (normal), x2 (0/1),
# x3 (age, years), placement (factor: family/institution/kin), muni (stratum: A/B/C).
library(survival)

dir <- "tests/reference"
set.seed(11)
n_child <- 300
n_ep <- ifelse(runif(n_child) < 0.35, 2L, 1L)
child <- rep(seq_len(n_child), n_ep)
n <- length(child)
frailty <- rnorm(n_child, sd = 0.5)[child]
x1 <- round(rnorm(n), 4)
x2 <- rbinom(n, 1, 0.4)
x3 <- round(runif(n, 0, 17), 2)
placement <- sample(c("family", "institution", "kin"), n, replace = TRUE, prob = c(.5, .3, .2))
muni <- sample(c("A", "B", "C"), n, replace = TRUE)
lp <- 0.5 * x1 - 0.7 * x2 + 0.05 * x3 + 0.4 * (placement == "institution") + frailty
t_event <- ceiling(rexp(n, rate = exp(lp) / 200))
t_cens <- ceiling(runif(n, 30, 900))
stop <- pmin(t_event, t_cens)
cause <- ifelse(runif(n) < 0.6, 2L, 1L)
status <- ifelse(t_event <= t_cens, cause, 0L)
entry <- ifelse(runif(n) < 0.3, floor(stop * runif(n)), 0)
d <- data.frame(child, entry, stop, status, x1, x2, x3, placement, muni)
write.csv(d, file.path(dir, "cox_data.csv"), row.names = FALSE)

d <- read.csv(file.path(dir, "cox_data.csv"), stringsAsFactors = TRUE)
ctl <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 50)
fits <- list(
  plain = coxph(Surv(stop, status == 2) ~ x1 + x2 + x3, data = d, ties = "efron",
                control = ctl),
  cluster = coxph(Surv(stop, status == 2) ~ x1 + x2 + x3, data = d, ties = "efron",
                  cluster = child, control = ctl),
  entry_cluster = coxph(Surv(entry, stop, status == 2) ~ x1 + x2 + x3, data = d,
                        ties = "efron", cluster = child, control = ctl),
  strata_entry_cluster = coxph(Surv(entry, stop, status == 2) ~ x1 + x2 + x3 + strata(muni),
                               data = d, ties = "efron", cluster = child, control = ctl),
  factor_cluster = coxph(Surv(stop, status == 2) ~ x1 + placement, data = d, ties = "efron",
                         cluster = child, control = ctl)
)
rows <- lapply(names(fits), function(m) {
  f <- fits[[m]]
  robust <- if (is.null(f$naive.var)) NA else sqrt(diag(f$var))
  naive <- if (is.null(f$naive.var)) sqrt(diag(f$var)) else sqrt(diag(f$naive.var))
  data.frame(model = m, term = names(coef(f)), coef = unname(coef(f)), se = unname(naive),
             robust_se = unname(robust), loglik = f$loglik[2], n = f$n, n_event = f$nevent)
})
write.csv(do.call(rbind, rows), file.path(dir, "cox_coef.csv"), row.names = FALSE)
writeLines(sprintf('{"R": "%s", "survival": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survival")), R.version$platform),
           file.path(dir, "cox_versions.json"))
