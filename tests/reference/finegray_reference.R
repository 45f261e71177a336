# Reference values for tests/models/test_finegray.py (Fine-Gray subdistribution hazards).
# Run from the repository root:  Rscript tests/reference/finegray_reference.R
# Reads the data sets written by `.venv/bin/python -m tests.models.test_finegray`:
#   tests/reference/finegray_days.csv   (time in days, status 0/1/2, x1, x2, age, placement)
#   tests/reference/finegray_rossi.csv  (week, status 0/1/2, fin, age, race, wexp, mar, paro, prio)
#   tests/reference/finegray_synth.csv  (time in days, status 0/1/2, age_13plus, criminality,
#                                        placement)
# and writes
#   tests/reference/finegray_crr_coef.csv    (dataset, cause, term, coef, se, se_naive, loglik,
#                                             loglik_null, converged): cmprsk::crr
#   tests/reference/finegray_crr_predict.csv (dataset, cause, profile, time, cif):
#                                             cmprsk::predict.crr for two covariate profiles
#   tests/reference/finegray_fgcox_coef.csv  (dataset, cause, ties, term, coef, se, robust_se):
#                                             survival::finegray + coxph(weights = fgwt,
#                                             cluster = row id, or child for breslow_child)
# crr runs with gtol = 1e-11, maxiter = 100; for synth cause 2 its line search stalls at the
# optimum (converged = FALSE) with the score below 1e-8, which is accurate enough for 1e-6.
#   tests/reference/finegray_versions.json
suppressPackageStartupMessages({library(survival); library(cmprsk)})

dir <- "tests/reference"
specs <- list(
  days = list(time = "time", formula = ~ x1 + x2 + age + placement),
  rossi = list(time = "week", formula = ~ fin + age + race + wexp + mar + paro + prio),
  synth = list(time = "time", formula = ~ age_13plus + criminality + placement),
  # the days data with the first 40 rows' times set to 0 (crr's G(0) convention at time 0)
  days_zero = list(time = "time", formula = ~ x1 + x2 + age + placement)
)
coef_rows <- list(); pred_rows <- list(); fg_rows <- list()
for (name in names(specs)) {
  s <- specs[[name]]
  file <- if (name == "days_zero") "days" else name
  d <- read.csv(file.path(dir, paste0("finegray_", file, ".csv")), stringsAsFactors = TRUE)
  if (file == "days") d$x2 <- as.integer(d$x2 == "True")
  if (name == "days_zero") d$time[1:40] <- 0
  x <- model.matrix(s$formula, data = d)[, -1, drop = FALSE]
  ftime <- d[[s$time]]
  for (cause in 1:2) {
    fit <- crr(ftime, d$status, x, failcode = cause, cencode = 0, gtol = 1e-11,
               maxiter = 100)
    coef_rows[[length(coef_rows) + 1]] <- data.frame(
      dataset = name, cause = cause, term = names(fit$coef), coef = unname(fit$coef),
      se = sqrt(diag(fit$var)), se_naive = sqrt(diag(fit$invinf)), loglik = fit$loglik,
      loglik_null = fit$loglik.null, converged = fit$converged)
    # two profiles: all covariates 0 (baseline) and the first row's covariates
    prof <- rbind(rep(0, ncol(x)), x[1, ])
    p <- predict(fit, cov1 = prof)
    for (j in 1:2) {
      pred_rows[[length(pred_rows) + 1]] <- data.frame(
        dataset = name, cause = cause, profile = j - 1, time = p[, 1], cif = p[, j + 1])
    }
    # survival::finegray + weighted Cox model (Breslow and Efron ties)
    d$cause_f <- factor(d$status, levels = 0:2, labels = c("censor", "c1", "c2"))
    d$ftime_ <- ftime
    d$row_id <- seq_len(nrow(d))
    keep <- unique(c("ftime_", "cause_f", "row_id", all.vars(s$formula),
                     if (name == "days") "child"))
    fg <- finegray(Surv(ftime_, cause_f) ~ ., data = d[, keep],
                   etype = paste0("c", cause))
    if (name == "days_zero") next  # finegray() drops rows with time 0
    variants <- list(breslow = c("breslow", "row_id"), efron = c("efron", "row_id"))
    if (name == "days") variants$breslow_child <- c("breslow", "child")
    for (v in names(variants)) {
      fg$cl_ <- fg[[variants[[v]][2]]]
      cf <- coxph(update(s$formula, Surv(fgstart, fgstop, fgstatus) ~ .), data = fg,
                  weights = fgwt, ties = variants[[v]][1], cluster = cl_,
                  control = coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 50))
      fg_rows[[length(fg_rows) + 1]] <- data.frame(
        dataset = name, cause = cause, ties = v, term = names(coef(cf)),
        coef = unname(coef(cf)), se = sqrt(diag(cf$naive.var)),
        robust_se = sqrt(diag(cf$var)))
    }
  }
}
write.csv(do.call(rbind, coef_rows), file.path(dir, "finegray_crr_coef.csv"), row.names = FALSE)
write.csv(do.call(rbind, pred_rows), file.path(dir, "finegray_crr_predict.csv"),
          row.names = FALSE)
write.csv(do.call(rbind, fg_rows), file.path(dir, "finegray_fgcox_coef.csv"), row.names = FALSE)
writeLines(sprintf('{"R": "%s", "survival": "%s", "cmprsk": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survival")),
                   as.character(packageVersion("cmprsk")), R.version$platform),
           file.path(dir, "finegray_versions.json"))
