# Reference values for tests/models/test_comparison.py (risk-standardised comparison of units).
# Run from the repository root:  Rscript tests/reference/comparison_reference.R
# Reads tests/reference/comparison_data.csv, written by Python from evaluation.synth
# (tests/models/test_comparison.py::reference_episodes, seed 7; one row per episode of the entry
# cohort with 365 days of follow-up; y = unplanned ending within 365 days; unit = municipality
# code). Writes
#   tests/reference/comparison_fixef.csv   (term, estimate, se)
#   tests/reference/comparison_ranef.csv   (unit, effect, effect_sd): conditional modes, sd
#   tests/reference/comparison_sigma.csv   (sigma, loglik, deviance)
#   tests/reference/comparison_deviance.csv (point, deviance, sigma, one column per term):
#                                          glmer's Laplace deviance at fixed parameter points
#   tests/reference/comparison_funnel.csv  (n, p0, prob, limit): interpolated exact binomial
#                                          funnel limits of Spiegelhalter (2005), appendix A.1.1
#   tests/reference/comparison_versions.json
suppressPackageStartupMessages(library(lme4))

dir <- "tests/reference"
d <- read.csv(file.path(dir, "comparison_data.csv"), colClasses = c(unit = "character"))
d$age_group <- relevel(factor(d$age_group), ref = "0-12")
d$sex <- relevel(factor(d$sex), ref = "F")
d$placement_type <- relevel(factor(d$placement_type), ref = "FH")

# Tight optimiser and PIRLS tolerances, so that the comparison measures the method, not
# the default stopping rules (bobyqa rhoend 1e-4 by default for glmer's second stage).
ctl <- glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
                    optCtrl = list(rhobeg = 0.02, rhoend = 1e-11, maxfun = 1e5))
fit <- glmer(y ~ age_group + sex + lvu + placement_type + problem_criminality +
               problem_child_substance + problem_child_mental + (1 | unit),
             data = d, family = binomial, nAGQ = 1, control = ctl)
print(summary(fit))

fe <- fixef(fit)
write.csv(data.frame(term = names(fe), estimate = unname(fe),
                     se = unname(sqrt(diag(as.matrix(vcov(fit)))))),
          file.path(dir, "comparison_fixef.csv"), row.names = FALSE)
re <- ranef(fit, condVar = TRUE)$unit
write.csv(data.frame(unit = rownames(re), effect = re[, 1],
                     effect_sd = sqrt(attr(re, "postVar")[1, 1, ])),
          file.path(dir, "comparison_ranef.csv"), row.names = FALSE)
write.csv(data.frame(sigma = unname(getME(fit, "theta")), loglik = as.numeric(logLik(fit)),
                     deviance = unname(deviance(fit))),
          file.path(dir, "comparison_sigma.csv"), row.names = FALSE)

# The Laplace deviance itself at three parameter points (the estimate, a perturbed point and
# a point far from it), so that the likelihood is compared without optimiser tolerances.
devfun <- glmer(formula(fit), data = d, family = binomial, nAGQ = 1, control = ctl,
                devFunOnly = TRUE)
theta <- unname(getME(fit, "theta"))
k <- length(fe)
points <- list(estimate = c(theta, fe),
               perturbed = c(theta * 1.3, fe + 0.05 * (-1)^seq_len(k)),
               far = c(0.1, -1.5, rep(0, k - 1)))
dev <- do.call(rbind, lapply(names(points), function(p) {
  par <- unname(points[[p]])
  data.frame(point = p, deviance = devfun(par), sigma = par[1],
             t(setNames(par[-1], names(fe))), check.names = FALSE)
}))
write.csv(dev, file.path(dir, "comparison_deviance.csv"), row.names = FALSE)

# Funnel limits: r_p = qbinom(p, n, p0), the smallest r with P(Y <= r) >= p;
# alpha = (P(Y <= r_p) - p) / (P(Y <= r_p) - P(Y <= r_p - 1)); limit = (r_p - alpha) / n,
# cut to [0, 1] (the interpolation goes below 0 when r_p = 0).
funnel <- expand.grid(n = c(1, 2, 5, 10, 23, 50, 100, 250, 1000, 5000),
                      p0 = c(0.02, 0.17, 0.5, 0.9),
                      prob = c(0.001, 0.025, 0.975, 0.999))
funnel$limit <- with(funnel, {
  r <- qbinom(prob, n, p0)
  a <- (pbinom(r, n, p0) - prob) / (pbinom(r, n, p0) - pbinom(r - 1, n, p0))
  pmin(pmax((r - a) / n, 0), 1)
})
write.csv(funnel, file.path(dir, "comparison_funnel.csv"), row.names = FALSE)

writeLines(sprintf('{"R": "%s", "lme4": "%s", "Matrix": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("lme4")), as.character(packageVersion("Matrix")),
                   R.version$platform),
           file.path(dir, "comparison_versions.json"))
