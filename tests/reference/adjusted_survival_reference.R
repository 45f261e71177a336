# Reference values for the confidence intervals of Cox-adjusted (directly standardised)
# survival curves, tests/models/test_adjusted_survival_ci.py.
# Run from the repository root:  Rscript tests/reference/adjusted_survival_reference.R
# Writes:
#   adjusted_survival_data.csv      synthetic episodes (set.seed(20261130)): child (cluster),
#                                   time (continuous, no ties), weeks (ceiling(time / 7):
#                                   many ties), event, treat (0/1), placement (3 levels),
#                                   age, muni (strata), entry_weeks (delayed entry in weeks,
#                                   0 for 70% of rows, else an integer below weeks)
#   adjusted_survival_ate.csv       riskRegression::ate(fit, treatment, data, times,
#                                   estimator = "GFORMULA") on the untied times: mean risks
#                                   (model, group, time, risk, se, lower, upper) per model
#   adjusted_survival_ate_loglog.csv  the same limits with meanRisk.transform = "cloglog"
#   adjusted_survival_contrast.csv  ate diffRisk and ratioRisk (model, group, reference,
#                                   time, difference, difference_se, difference_lower,
#                                   difference_upper, difference_p, ratio, ratio_se,
#                                   ratio_lower, ratio_upper, ratio_p)
#   adjusted_survival_hand.csv      influence functions written out by hand below (Breslow
#                                   estimator, survival::residuals(type = "dfbeta") for beta)
#                                   on the tied weekly data, per model: estimate and se
#   adjusted_survival_ate_ties.csv  riskRegression::ate on the tied data (documented
#                                   difference: its IF of beta is not dfbeta when times tie)
#   adjusted_survival_versions.json
suppressMessages({
  library(survival)
  library(riskRegression)
})
dir <- "tests/reference"
set.seed(20261130)
n <- 300
child <- sample(1:200, n, replace = TRUE)
treat <- rbinom(n, 1, 0.45)
placement <- factor(sample(c("family", "institution", "kin"), n, replace = TRUE,
                           prob = c(0.5, 0.3, 0.2)))
age <- round(runif(n, 0, 17), 2)
muni <- factor(sample(c("A", "B", "C"), n, replace = TRUE))
lp <- 0.5 * treat + 0.4 * (placement == "institution") - 0.3 * (placement == "kin") +
  0.04 * age
tev <- rexp(n, 0.004 * exp(lp))
cens <- runif(n, 50, 700)
time <- round(pmin(tev, cens), 4)
event <- as.numeric(tev <= cens)
weeks <- ceiling(time / 7)
entry_weeks <- ifelse(runif(n) < 0.3, floor(runif(n) * weeks), 0)
d <- data.frame(child = child, time = time, weeks = weeks, event = event,
                treat = treat, placement = placement, age = age, muni = muni,
                entry_weeks = entry_weeks)
stopifnot(!anyDuplicated(d$time))
write.csv(d, file.path(dir, "adjusted_survival_data.csv"), row.names = FALSE)
d <- read.csv(file.path(dir, "adjusted_survival_data.csv"), stringsAsFactors = TRUE)
d$treatf <- factor(d$treat)
ctl <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 50)
times <- c(30, 90, 180, 365)
weeks <- c(4, 13, 26, 52)

# ---- riskRegression on continuous (untied) times --------------------------------------
fits <- list(
  binary = list(coxph(Surv(time, event) ~ treatf + age + placement, data = d,
                      ties = "breslow", x = TRUE, y = TRUE, control = ctl), "treatf"),
  three = list(coxph(Surv(time, event) ~ treat + age + placement, data = d,
                     ties = "breslow", x = TRUE, y = TRUE, control = ctl), "placement"),
  strata = list(coxph(Surv(time, event) ~ treat + age + placement + strata(muni), data = d,
                      ties = "breslow", x = TRUE, y = TRUE, control = ctl), "placement")
)
mean_rows <- list(); loglog_rows <- list(); contrast_rows <- list()
for (m in names(fits)) {
  f <- fits[[m]][[1]]; v <- fits[[m]][[2]]
  a <- ate(f, treatment = v, data = d, times = times, estimator = "GFORMULA",
           verbose = FALSE)
  mr <- a$meanRisk
  mean_rows[[m]] <- data.frame(model = m, group = as.character(mr$treatment), time = mr$time,
                               risk = mr$estimate, se = mr$se, lower = mr$lower,
                               upper = mr$upper)
  ll <- confint(a, meanRisk.transform = "cloglog")$meanRisk
  loglog_rows[[m]] <- data.frame(model = m, group = as.character(ll$treatment),
                                 time = ll$time, lower = ll$lower, upper = ll$upper)
  dr <- a$diffRisk; rr <- a$ratioRisk
  contrast_rows[[m]] <- data.frame(
    model = m, group = dr$B, reference = dr$A, time = dr$time, difference = dr$estimate,
    difference_se = dr$se, difference_lower = dr$lower, difference_upper = dr$upper,
    difference_p = dr$p.value, ratio = rr$estimate, ratio_se = rr$se, ratio_lower = rr$lower,
    ratio_upper = rr$upper, ratio_p = rr$p.value)
  if (m == "three") {
    # cluster-robust: riskRegression's per-row influence functions summed within child
    cl <- do.call(rbind, lapply(names(a$iid$GFORMULA), function(lev) {
      agg <- rowsum(a$iid$GFORMULA[[lev]], d$child)
      data.frame(model = "three_cluster", group = lev, time = times, risk = NA,
                 se = sqrt(colSums(agg^2)), lower = NA, upper = NA)
    }))
    cl$risk <- mean_rows[[m]]$risk
    mean_rows[["three_cluster"]] <- cl
  }
}
write.csv(do.call(rbind, mean_rows), file.path(dir, "adjusted_survival_ate.csv"),
          row.names = FALSE)
write.csv(do.call(rbind, loglog_rows), file.path(dir, "adjusted_survival_ate_loglog.csv"),
          row.names = FALSE)
write.csv(do.call(rbind, contrast_rows), file.path(dir, "adjusted_survival_contrast.csv"),
          row.names = FALSE)

# ---- influence functions by hand, Breslow estimator, tied weekly times ------------------
# theta(t) = mean_j exp(-H0(t) exp(x_j'b)), x_j with the variable set to the level.
# IF_i = D_beta' dfbeta_i - mean_j(S_j exp(x_j'b)) IF_H0,i(t) + (S_i(t) - theta(t)) / n,
# IF_H0,i(t) = sum_{t_k <= t} [dN_i(t_k) / S0_k - Y_i(t_k) exp(x_i'b) d_k / S0_k^2]
# (Y_i(u) = entry_i < u <= stop_i; entry is -Inf without delayed entry)
#              - H1(t)' dfbeta_i,   H1(t) = sum_{t_k <= t} d_k S1_k / S0_k^2.
hand <- function(fit, data, variable, levels, times, cluster = NULL, entry = NULL) {
  X <- model.matrix(fit)
  b <- coef(fit)
  r <- exp(drop(X %*% b))
  tt <- data$weeks; ev <- data$event; n <- nrow(data)
  en <- if (is.null(entry)) rep(-Inf, n) else data[[entry]]
  dfb <- residuals(fit, type = "dfbeta")
  ut <- sort(unique(tt[ev == 1]))
  S0 <- sapply(ut, function(u) sum(r[tt >= u & en < u]))
  S1 <- t(sapply(ut, function(u) colSums(r[tt >= u & en < u] *
                                           X[tt >= u & en < u, , drop = FALSE])))
  dk <- sapply(ut, function(u) sum(ev[tt == u]))
  out <- list()
  for (lev in levels) {
    nd <- data
    nd[[variable]] <- if (is.factor(data[[variable]]))
      factor(lev, levels = levels(data[[variable]])) else lev
    Xn <- model.matrix(fit, data = nd)
    rn <- exp(drop(Xn %*% b))
    for (t in times) {
      k <- ut <= t
      H0 <- sum(dk[k] / S0[k])
      S <- exp(-H0 * rn)
      theta <- mean(S)
      H1 <- colSums(dk[k] * S1[k, , drop = FALSE] / S0[k]^2)
      ifh <- sapply(seq_len(n), function(i)
        sum(((tt[i] == ut[k]) & ev[i] == 1) / S0[k] -
              (tt[i] >= ut[k] & en[i] < ut[k]) * r[i] * dk[k] / S0[k]^2)) -
        drop(dfb %*% H1)
      dbeta <- -colMeans(S * rn * H0 * Xn)
      iff <- drop(dfb %*% dbeta) - mean(S * rn) * ifh + (S - theta) / n
      if (!is.null(cluster)) iff <- rowsum(iff, cluster)
      out[[length(out) + 1]] <- data.frame(group = as.character(lev), time = t,
                                           estimate = theta, se = sqrt(sum(iff^2)))
    }
  }
  do.call(rbind, out)
}
hfits <- list(
  binary = coxph(Surv(weeks, event) ~ treat + age + placement, data = d, ties = "breslow",
                 control = ctl),
  three = coxph(Surv(weeks, event) ~ treat + age + placement, data = d, ties = "breslow",
                control = ctl),
  entry = coxph(Surv(entry_weeks, weeks, event) ~ treat + age + placement, data = d,
                ties = "breslow", control = ctl)
)
hand_rows <- rbind(
  cbind(model = "binary", hand(hfits$binary, d, "treat", c(0, 1), weeks)),
  cbind(model = "three", hand(hfits$three, d, "placement", levels(d$placement), weeks)),
  cbind(model = "three_cluster", hand(hfits$three, d, "placement", levels(d$placement), weeks,
                                      cluster = d$child)),
  cbind(model = "entry", hand(hfits$entry, d, "placement", levels(d$placement), weeks,
                              entry = "entry_weeks")),
  cbind(model = "entry_cluster", hand(hfits$entry, d, "placement", levels(d$placement),
                                      weeks, cluster = d$child, entry = "entry_weeks"))
)
write.csv(hand_rows, file.path(dir, "adjusted_survival_hand.csv"), row.names = FALSE)

# riskRegression on the tied data, for the record (see the test's docstring)
fit_t <- coxph(Surv(weeks, event) ~ treat + age + placement, data = d, ties = "breslow",
               x = TRUE, y = TRUE, control = ctl)
at <- ate(fit_t, treatment = "placement", data = d, times = weeks, verbose = FALSE)$meanRisk
write.csv(data.frame(model = "three", group = as.character(at$treatment), time = at$time,
                     risk = at$estimate, se = at$se),
          file.path(dir, "adjusted_survival_ate_ties.csv"), row.names = FALSE)

writeLines(sprintf('{"R": "%s", "survival": "%s", "riskRegression": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survival")),
                   as.character(packageVersion("riskRegression")), R.version$platform),
           file.path(dir, "adjusted_survival_versions.json"))
