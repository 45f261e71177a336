# Independent review of evaluation.models.effects.estimate_effect (issue 4).
#
# A route different from effects_reference.R (which writes out the same analytic influence
# functions as the Python code):
#   1. Hajek IPW point estimates as weighted regressions: lm(y ~ a, weights = w) gives the
#      weighted mean difference, glm(y ~ a, quasipoisson, weights = w) the log risk ratio;
#      their sandwich::vcovHC(type = "HC0") SEs treat the weights as KNOWN (what
#      survey::svyglm reports, up to its n/(n-1) factor; survey is not installed here).
#   2. The stacked M-estimation sandwich with an ESTIMATED propensity score (Lunceford &
#      Davidian 2004, section 3; Stefanski & Boos 2002) built generically: the estimating
#      functions of (PS model, outcome models, arm means) are written as plain R functions,
#      the bread is their NUMERICAL Jacobian (numDeriv::jacobian, Richardson), the meat their
#      cross-product (summed within child clusters for the clustered variant).
#   3. Lunceford & Davidian (2004) closed-form variance of the normalised IPW ATE (their
#      Delta_IPW,2, eq. 9-10 with the H_beta' E_beta^-1 term), written out.
#   4. Balance (SMD with the pooled SD of the unweighted arms, for ATT the SD of the treated
#      arm; weighted variance ratio) and Kish ESS by their definitions.
#   5. Three arms: a multinomial PS fitted by Newton here, generalised weights, the same
#      numerical-Jacobian sandwich.
# (E-values are checked from the published formulas in tests/models/test_effects_sandwich.py.)
# Run from the repository root: Rscript tests/reference/review_effects.R
# Reads tests/reference/effects_data.csv; writes tests/reference/review_effects_*.csv.
suppressPackageStartupMessages({library(sandwich); library(numDeriv); library(jsonlite)})

d <- read.csv("tests/reference/effects_data.csv")
d$placement <- factor(d$placement, levels = c("FH", "HVB", "NH"))
n <- nrow(d)
ps_fit <- glm(treat ~ age + sex + behav + placement, family = binomial, data = d)
X <- model.matrix(ps_fit)
A <- d$treat
p <- ncol(X)
expit <- function(z) 1 / (1 + exp(-z))

# tilting h and weights (w1 for the treated, w0 for controls) as functions of e
tilt <- function(e, estimand) {
  switch(estimand,
         ATE = list(h = rep(1, length(e)), w1 = 1 / e, w0 = 1 / (1 - e)),
         ATT = list(h = A, w1 = rep(1, length(e)), w0 = e / (1 - e)),
         ATO = list(h = e * (1 - e), w1 = 1 - e, w0 = e))
}

# estimating functions (n x q) at theta = (gamma, [beta0, beta1], mu0, mu1)
psi_fun <- function(theta, y, binary, method, estimand) {
  gamma <- theta[1:p]
  e <- expit(drop(X %*% gamma))
  out <- X * (A - e)
  tw <- tilt(e, estimand)
  k <- p
  if (method == "aipw") {
    b0 <- theta[k + 1:p]; b1 <- theta[k + p + 1:p]; k <- k + 2 * p
    eta0 <- drop(X %*% b0); eta1 <- drop(X %*% b1)
    m0 <- if (binary) expit(eta0) else eta0
    m1 <- if (binary) expit(eta1) else eta1
    out <- cbind(out, X * ((1 - A) * (y - m0)), X * (A * (y - m1)))
  }
  mu0 <- theta[k + 1]; mu1 <- theta[k + 2]
  if (method == "ipw") {
    s0 <- (1 - A) * tw$w0 * (y - mu0)
    s1 <- A * tw$w1 * (y - mu1)
  } else {
    s0 <- tw$h * (m0 - mu0) + (1 - A) * tw$w0 * (y - m0)
    s1 <- tw$h * (m1 - mu1) + A * tw$w1 * (y - m1)
  }
  cbind(out, s0, s1)
}

solve_theta <- function(y, binary, method, estimand) {
  gamma <- coef(ps_fit)
  e <- fitted(ps_fit)
  tw <- tilt(e, estimand)
  theta <- gamma
  if (method == "aipw") {
    fam <- if (binary) binomial() else gaussian()
    f0 <- glm(y ~ X - 1, family = fam, subset = A == 0, control = glm.control(epsilon = 1e-14))
    f1 <- glm(y ~ X - 1, family = fam, subset = A == 1, control = glm.control(epsilon = 1e-14))
    b0 <- coef(f0); b1 <- coef(f1)
    eta0 <- drop(X %*% b0); eta1 <- drop(X %*% b1)
    m0 <- if (binary) expit(eta0) else eta0
    m1 <- if (binary) expit(eta1) else eta1
    mu0 <- (sum(tw$h * m0) + sum((1 - A) * tw$w0 * (y - m0))) / sum(tw$h)
    mu1 <- (sum(tw$h * m1) + sum(A * tw$w1 * (y - m1))) / sum(tw$h)
    theta <- c(theta, b0, b1)
  } else {
    mu0 <- sum((1 - A) * tw$w0 * y) / sum((1 - A) * tw$w0)
    mu1 <- sum(A * tw$w1 * y) / sum(A * tw$w1)
  }
  c(theta, mu0, mu1)
}

sandwich_var <- function(theta, y, binary, method, estimand, cluster = NULL) {
  psi <- psi_fun(theta, y, binary, method, estimand)
  stopifnot(max(abs(colMeans(psi))) < 1e-8)
  bread <- jacobian(function(t) colMeans(psi_fun(t, y, binary, method, estimand)), theta,
                    method = "Richardson")
  if (!is.null(cluster)) psi <- rowsum(psi, cluster)
  meat <- crossprod(psi) / n
  binv <- solve(bread)
  binv %*% meat %*% t(binv) / n
}

rows <- list()
add <- function(...) rows[[length(rows) + 1]] <<- data.frame(...)
for (estimand in c("ATE", "ATT", "ATO")) {
  for (method in c("ipw", "aipw")) {
    for (outcome in c("yb", "yc")) {
      y <- d[[outcome]]
      binary <- outcome == "yb"
      theta <- solve_theta(y, binary, method, estimand)
      q <- length(theta)
      for (cl in c(FALSE, TRUE)) {
        V <- sandwich_var(theta, y, binary, method, estimand, if (cl) d$child else NULL)
        mu <- theta[q - 1:0]
        Vm <- V[q - 1:0, q - 1:0]
        g_rd <- c(-1, 1)
        g_lr <- c(-1 / mu[1], 1 / mu[2])
        cl_name <- if (cl) "child" else "none"
        add(estimand = estimand, method = method, outcome = outcome, cluster = cl_name,
            quantity = c("mu_0", "mu_1", "difference", "log_ratio"),
            estimate = c(mu, mu[2] - mu[1], log(mu[2] / mu[1])),
            se = sqrt(c(diag(Vm), drop(g_rd %*% Vm %*% g_rd), drop(g_lr %*% Vm %*% g_lr))))
      }
    }
  }
}
sandwich_out <- do.call(rbind, rows)
sandwich_out <- sandwich_out[!(sandwich_out$outcome == "yc" &
                               sandwich_out$quantity == "log_ratio"), ]
write.csv(sandwich_out, "tests/reference/review_effects_sandwich.csv", row.names = FALSE)

# 1. weighted regressions, weights treated as known (survey-style SE)
e <- fitted(ps_fit)
rows <- list()
for (estimand in c("ATE", "ATT", "ATO")) {
  tw <- tilt(e, estimand)
  w <- ifelse(A == 1, tw$w1, tw$w0)
  for (outcome in c("yb", "yc")) {
    y <- d[[outcome]]
    f <- lm(y ~ A, weights = w)
    add(estimand = estimand, outcome = outcome, quantity = "difference",
        estimate = unname(coef(f)[2]), se_known_weights = sqrt(vcovHC(f, type = "HC0")[2, 2]))
    if (outcome == "yb") {
      g <- glm(y ~ A, family = quasipoisson(link = "log"), weights = w,
               control = glm.control(epsilon = 1e-14))
      add(estimand = estimand, outcome = outcome, quantity = "log_ratio",
          estimate = unname(coef(g)[2]),
          se_known_weights = sqrt(vcovHC(g, type = "HC0")[2, 2]))
    }
  }
}
write.csv(do.call(rbind, rows), "tests/reference/review_effects_weighted_glm.csv",
          row.names = FALSE)

# 3. Lunceford & Davidian (2004) closed form for the normalised IPW ATE, estimated PS:
# n^-2 sum_i {I_i - (Z_i - e_i) H' E^-1 X_i}^2 with
# I_i = Z_i (Y_i - mu1) / e_i - (1 - Z_i) (Y_i - mu0) / (1 - e_i),
# H = n^-1 sum_i {Z_i (Y_i - mu1) (1 - e_i) / e_i + (1 - Z_i) (Y_i - mu0) e_i / (1 - e_i)} X_i,
# E = n^-1 sum_i e_i (1 - e_i) X_i X_i'.
rows <- list()
for (outcome in c("yb", "yc")) {
  y <- d[[outcome]]
  mu1 <- sum(A * y / e) / sum(A / e)
  mu0 <- sum((1 - A) * y / (1 - e)) / sum((1 - A) / (1 - e))
  I <- A * (y - mu1) / e - (1 - A) * (y - mu0) / (1 - e)
  H <- colMeans(X * (A * (y - mu1) * (1 - e) / e + (1 - A) * (y - mu0) * e / (1 - e)))
  E <- crossprod(X * sqrt(e * (1 - e))) / n
  adj <- (A - e) * drop(X %*% solve(E, H))
  # the same with the sample normalisers D1 = mean(Z / e), D0 = mean((1 - Z) / (1 - e)) kept
  # (L&D use their probability limit, 1; the sandwich with sample derivatives keeps them)
  D1 <- mean(A / e); D0 <- mean((1 - A) / (1 - e))
  In <- A * (y - mu1) / e / D1 - (1 - A) * (y - mu0) / (1 - e) / D0
  Hn <- colMeans(X * (A * (y - mu1) * (1 - e) / e / D1 + (1 - A) * (y - mu0) * e / (1 - e) / D0))
  adjn <- (A - e) * drop(X %*% solve(E, Hn))
  add(outcome = outcome, estimate = mu1 - mu0,
      se_estimated_ps = sqrt(sum((I - adj)^2) / n^2), se_known_ps = sqrt(sum(I^2) / n^2),
      se_estimated_ps_normalised = sqrt(sum((In - adjn)^2) / n^2),
      se_known_ps_normalised = sqrt(sum(In^2) / n^2))
}
write.csv(do.call(rbind, rows), "tests/reference/review_effects_lunceford.csv",
          row.names = FALSE)

# 4. balance (cobalt's default s.d.denom per estimand, the same SD in both columns: the
# pooled SD of the unweighted arms for ATE and ATO, the SD of the treated arm for ATT),
# Kish ESS, weighted variance ratio (weights normalised, divisor sum w) per estimand
rows <- list()
Xc <- X[, -1]
for (estimand in c("ATE", "ATT", "ATO")) {
  tw <- tilt(e, estimand)
  w <- ifelse(A == 1, tw$w1, tw$w0)
  for (j in seq_len(ncol(Xc))) {
    x <- Xc[, j]
    sdp <- if (estimand == "ATT") sd(x[A == 1]) else sqrt((var(x[A == 1]) + var(x[A == 0])) / 2)
    wm <- function(g) sum(w[A == g] * x[A == g]) / sum(w[A == g])
    wv <- function(g) sum(w[A == g] * (x[A == g] - wm(g))^2) / sum(w[A == g])
    add(estimand = estimand, covariate = colnames(Xc)[j],
        smd_unadjusted = (mean(x[A == 1]) - mean(x[A == 0])) / sdp,
        smd_adjusted = (wm(1) - wm(0)) / sdp, variance_ratio_adjusted = wv(1) / wv(0))
  }
}
write.csv(do.call(rbind, rows), "tests/reference/review_effects_balance.csv", row.names = FALSE)
rows <- list()
for (estimand in c("ATE", "ATT", "ATO")) {
  tw <- tilt(e, estimand)
  w <- ifelse(A == 1, tw$w1, tw$w0)
  for (g in 0:1) add(estimand = estimand, arm = g,
                     ess = sum(w[A == g])^2 / sum(w[A == g]^2))
}
write.csv(do.call(rbind, rows), "tests/reference/review_effects_ess.csv", row.names = FALSE)

writeLines(toJSON(list(R = R.version.string,
                       sandwich = as.character(packageVersion("sandwich")),
                       numDeriv = as.character(packageVersion("numDeriv")),
                       jsonlite = as.character(packageVersion("jsonlite"))),
                  auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/review_effects_versions.json")

# 5. three arms (FH = control, HVB, SIS): multinomial logistic PS fitted by Newton here,
# generalised weights (ATE 1/e_j; ATT e_t/e_j for the target arm t; ATO h = 1/sum_l 1/e_l,
# w_j = h/e_j, Li & Li 2019), the same numerical-Jacobian sandwich
lev <- c("FH", "HVB", "SIS")
G <- match(d$arm3, lev)                          # 1 = FH
K <- length(lev)
IND <- outer(G, seq_len(K), "==") * 1
softmax <- function(gam) {                       # gam: p x (K-1)
  eta <- cbind(0, X %*% gam)
  eta <- eta - apply(eta, 1, max)
  ex <- exp(eta)
  ex / rowSums(ex)
}
gam <- matrix(0, p, K - 1)
for (it in 1:100) {
  e3 <- softmax(gam)
  score <- as.vector(crossprod(X, IND[, -1] - e3[, -1]))
  info <- matrix(0, p * (K - 1), p * (K - 1))
  for (j in 2:K) for (l in 2:K) {
    wjl <- e3[, j] * ((j == l) - e3[, l])
    info[(j - 2) * p + 1:p, (l - 2) * p + 1:p] <- crossprod(X * wjl, X)
  }
  step <- solve(info, score)
  gam <- gam + matrix(step, p, K - 1)
  if (max(abs(step)) < 1e-13) break
}
tilt3 <- function(e3, estimand, target) {
  switch(estimand,
         ATE = list(h = rep(1, n), w = 1 / e3),
         ATT = list(h = IND[, target], w = e3[, target] / e3),
         ATO = {h <- 1 / rowSums(1 / e3); list(h = h, w = h / e3)})
}
q_ps <- p * (K - 1)
psi3 <- function(theta, y, binary, method, estimand, target) {
  e3 <- softmax(matrix(theta[1:q_ps], p, K - 1))
  out <- do.call(cbind, lapply(2:K, function(j) X * (IND[, j] - e3[, j])))
  tw <- tilt3(e3, estimand, target)
  k <- q_ps
  m <- matrix(0, n, K)
  if (method == "aipw") {
    for (j in 1:K) {
      eta <- drop(X %*% theta[k + 1:p]); k <- k + p
      m[, j] <- if (binary) expit(eta) else eta
      out <- cbind(out, X * (IND[, j] * (y - m[, j])))
    }
  }
  mu <- theta[k + 1:K]
  for (j in 1:K) {
    s <- if (method == "ipw") IND[, j] * tw$w[, j] * (y - mu[j]) else
      tw$h * (m[, j] - mu[j]) + IND[, j] * tw$w[, j] * (y - m[, j])
    out <- cbind(out, s)
  }
  out
}
rows <- list()
for (estimand in c("ATE", "ATT", "ATO")) {
  target <- if (estimand == "ATT") 2 else NA       # ATT in the HVB population
  for (method in c("ipw", "aipw")) {
    for (outcome in c("yb", "yc")) {
      y <- d[[outcome]]
      binary <- outcome == "yb"
      e3 <- softmax(gam)
      tw <- tilt3(e3, estimand, target)
      theta <- as.vector(gam)
      m <- matrix(0, n, K)
      if (method == "aipw") {
        for (j in 1:K) {
          fj <- glm(y ~ X - 1, family = if (binary) binomial() else gaussian(),
                    subset = G == j, control = glm.control(epsilon = 1e-14, maxit = 100))
          theta <- c(theta, coef(fj))
          eta <- drop(X %*% coef(fj))
          m[, j] <- if (binary) expit(eta) else eta
        }
        mu <- sapply(1:K, function(j)
          (sum(tw$h * m[, j]) + sum(IND[, j] * tw$w[, j] * (y - m[, j]))) / sum(tw$h))
      } else {
        mu <- sapply(1:K, function(j)
          sum(IND[, j] * tw$w[, j] * y) / sum(IND[, j] * tw$w[, j]))
      }
      theta <- c(theta, mu)
      psi <- psi3(theta, y, binary, method, estimand, target)
      stopifnot(max(abs(colMeans(psi))) < 1e-8)
      bread <- jacobian(function(t) colMeans(psi3(t, y, binary, method, estimand, target)),
                        theta, method = "Richardson")
      binv <- solve(bread)
      V <- binv %*% (crossprod(psi) / n) %*% t(binv) / n
      qq <- length(theta) - K + 1:K
      Vm <- V[qq, qq]
      for (j in 1:K) add(estimand = estimand, method = method, outcome = outcome,
                         quantity = paste0("mu_", lev[j]), estimate = mu[j],
                         se = sqrt(Vm[j, j]))
      for (j in 2:K) {
        g <- numeric(K); g[1] <- -1; g[j] <- 1
        add(estimand = estimand, method = method, outcome = outcome,
            quantity = paste0("difference_", lev[j]), estimate = mu[j] - mu[1],
            se = sqrt(drop(g %*% Vm %*% g)))
      }
    }
  }
}
write.csv(do.call(rbind, rows), "tests/reference/review_effects_three_arms.csv",
          row.names = FALSE)
