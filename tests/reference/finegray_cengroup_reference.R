# Reference values for tests/models/test_finegray_cengroup.py (Fine-Gray with censoring groups).
# Run from the repository root:  Rscript tests/reference/finegray_cengroup_reference.R
# Reads the data sets written by `.venv/bin/python -m tests.models.test_finegray_cengroup`:
#   tests/reference/finegray_cengroup_data.csv      (time in days, status 0/1/2, x,
#                                                    placement, municipality, period)
#   tests/reference/finegray_cengroup_complete.csv  (same columns; municipality C has no
#                                                    censored rows)
# and writes
#   tests/reference/finegray_cengroup_coef.csv     (dataset, cengroup, cause, term, coef, se,
#                                                   se_naive, loglik, loglik_null, converged):
#                                                   cmprsk::crr(..., cengroup = )
#   tests/reference/finegray_cengroup_predict.csv  (dataset, cengroup, cause, profile, time,
#                                                   cif): predict.crr for two covariate
#                                                   profiles, read at a few times
#   tests/reference/finegray_cengroup_versions.json
# Datasets: "data", "complete", and "data_zero" (data with the first 30 rows' times set to
# 0, for crr's G(0) convention at time 0). crr runs with gtol = 1e-11, maxiter = 100.
suppressPackageStartupMessages({library(survival); library(cmprsk)})

dir <- "tests/reference"
specs <- list(
  list(dataset = "data", cengroup = "municipality"),
  list(dataset = "data", cengroup = "period"),
  list(dataset = "complete", cengroup = "municipality"),
  list(dataset = "data_zero", cengroup = "municipality")
)
times <- c(30, 90, 180, 365, 730)
coef_rows <- list(); pred_rows <- list()
for (s in specs) {
  file <- if (s$dataset == "complete") "complete" else "data"
  d <- read.csv(file.path(dir, paste0("finegray_cengroup_", file, ".csv")),
                stringsAsFactors = FALSE)
  if (s$dataset == "data_zero") d$time[1:30] <- 0
  x <- model.matrix(~ x + placement, data = d)[, -1, drop = FALSE]
  for (cause in 1:2) {
    fit <- crr(d$time, d$status, x, cengroup = d[[s$cengroup]], failcode = cause,
               cencode = 0, gtol = 1e-11, maxiter = 100)
    coef_rows[[length(coef_rows) + 1]] <- data.frame(
      dataset = s$dataset, cengroup = s$cengroup, cause = cause, term = names(fit$coef),
      coef = unname(fit$coef), se = sqrt(diag(fit$var)), se_naive = sqrt(diag(fit$invinf)),
      loglik = fit$loglik, loglik_null = fit$loglik.null, converged = fit$converged)
    # two profiles: all covariates 0 (baseline) and the first row's covariates
    p <- predict(fit, cov1 = rbind(rep(0, ncol(x)), x[1, ]))
    at <- findInterval(times, p[, 1])
    for (j in 1:2) {
      pred_rows[[length(pred_rows) + 1]] <- data.frame(
        dataset = s$dataset, cengroup = s$cengroup, cause = cause, profile = j - 1,
        time = times, cif = ifelse(at > 0, p[pmax(at, 1), j + 1], 0))
    }
  }
}
write.csv(do.call(rbind, coef_rows), file.path(dir, "finegray_cengroup_coef.csv"),
          row.names = FALSE)
write.csv(do.call(rbind, pred_rows), file.path(dir, "finegray_cengroup_predict.csv"),
          row.names = FALSE)
writeLines(sprintf('{"R": "%s", "survival": "%s", "cmprsk": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survival")),
                   as.character(packageVersion("cmprsk")), R.version$platform),
           file.path(dir, "finegray_cengroup_versions.json"))
