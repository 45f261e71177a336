# Reference values for tests/models/test_effects.py (evaluation.models.effects.estimate_effect).
# Run from the repository root:  Rscript tests/reference/effects_reference.R
# Reads tests/reference/effects_data.csv (2,000 synthetic rows written by
# tests/models/test_effects.py::make_reference_data; columns child (cluster id), age, sex, behav,
# placement (FH/HVB/NH), treat (0/1), arm3 (FH/HVB/SIS), yb (0/1 outcome), yc (continuous)),
# and writes
#   tests/reference/effects_estimates.csv (treatment, estimand, method, outcome, truncate,
#                                          quantity, estimate, se, se_cluster)
#   tests/reference/effects_versions.json
# Everything below is base R: glm() for the models, and the estimators and their influence
# functions written out explicitly (stacked estimating equations / M-estimation sandwich).
#
# Covariate design: ~ age + sex + behav + placement (treatment coding, reference "FH").
# Arm means mu_a solve sum_i psi_i = 0 with tilting h and weights w_a:
#   naive       psi = 1{A=a} (Y - mu)
#   regression  psi = h (m_a(X) - mu)
#   ipw         psi = 1{A=a} w_a (Y - mu)                          (Hajek)
#   aipw        psi = h (m_a(X) - mu) + 1{A=a} w_a (Y - m_a(X))
# ATE: h = 1, w_a = 1/e_a; ATT (population A = t): h = 1{A=t}, w_a = e_t/e_a;
# ATO: h = 1 / sum_l 1/e_l (two arms: e(1-e)), w_a = h/e_a.
# Influence function: phi = (psi + G_g' Iinv_g s_g + G_b' Iinv_b s_b) / D,
# G = mean derivative of psi w.r.t. the propensity (g) / outcome (b) coefficients,
# s = per-row score, I = mean information, D = mean of -dpsi/dmu.
# Var = sum(phi^2) / n^2; clustered: sum over children of (sum phi)^2 / n^2.

dir <- "tests/reference"
d <- read.csv(file.path(dir, "effects_data.csv"), stringsAsFactors = FALSE)
d$placement <- factor(d$placement, levels = c("FH", "HVB", "NH"))
n <- nrow(d)
X <- model.matrix(~ age + sex + behav + placement, data = d)
ctl <- glm.control(epsilon = 1e-14, maxit = 100)

var_se <- function(phi) sqrt(sum(phi^2)) / n
var_se_cl <- function(phi) sqrt(sum(rowsum(phi, d$child)^2)) / n

# ---------------------------------------------------------------- two arms (treat 0/1)
A <- d$treat
ps_fit <- glm(A ~ age + sex + behav + placement, family = binomial, data = d, control = ctl)
e <- unname(fitted(ps_fit))
eta_ps <- X %*% coef(ps_fit)
I_g <- crossprod(X * (e * (1 - e)), X) / n            # mean information of the PS model
s_g <- X * (A - e)                                      # PS scores
de <- e * (1 - e)                                       # d e / d eta

tilt <- function(estimand, eps = 0) {
  # h, w1, w0 and their derivatives with respect to the PS linear predictor
  if (estimand == "ATE" && eps > 0) {
    # truncated propensity scores: e bounded into [eps, 1 - eps]; a truncated score is
    # constant in the coefficients (derivative 0)
    et <- pmin(pmax(e, eps), 1 - eps)
    out <- e < eps | e > 1 - eps
    list(h = rep(1, n), dh = rep(0, n), w1 = 1 / et, w0 = 1 / (1 - et),
         dw1 = ifelse(out, 0, -(1 - e) / e), dw0 = ifelse(out, 0, e / (1 - e)))
  } else if (estimand == "ATE") {
    list(h = rep(1, n), dh = rep(0, n), w1 = 1 / e, w0 = 1 / (1 - e),
         dw1 = -(1 - e) / e, dw0 = e / (1 - e))
  } else if (estimand == "ATT") {
    list(h = A, dh = rep(0, n), w1 = rep(1, n), w0 = e / (1 - e),
         dw1 = rep(0, n), dw0 = e / (1 - e))
  } else {
    list(h = e * (1 - e), dh = e * (1 - e) * (1 - 2 * e), w1 = 1 - e, w0 = e,
         dw1 = -e * (1 - e), dw0 = e * (1 - e))
  }
}

arm_if <- function(y, binary, estimand, method, arm, eps = 0) {
  tl <- tilt(estimand, eps)
  r <- as.numeric(A == arm)
  w <- if (arm == 1) tl$w1 else tl$w0
  dw <- if (arm == 1) tl$dw1 else tl$dw0
  h <- tl$h
  dh <- tl$dh
  if (method %in% c("regression", "aipw")) {
    sub <- d[A == arm, ]
    sub$y <- y[A == arm]
    fam <- if (binary) binomial() else gaussian()
    of <- glm(y ~ age + sex + behav + placement, family = fam, data = sub, control = ctl)
    m <- as.vector(X %*% coef(of))
    if (binary) m <- plogis(m)
    v <- if (binary) m * (1 - m) else rep(1, n)
    I_b <- crossprod(X * (r * v), X) / n               # mean information (bread), arm only
  }
  if (method == "naive") {
    mu <- sum(r * y) / sum(r)
    psi <- r * (y - mu)
    D <- mean(r)
    extra <- 0
  } else if (method == "regression") {
    mu <- sum(h * m) / sum(h)
    psi <- h * (m - mu)
    D <- mean(h)
    G_g <- colMeans(X * (dh * (m - mu)))
    G_b <- colMeans(X * (h * v))
    extra <- s_g %*% solve(I_g, G_g) + (r * (y - m)) * (X %*% solve(I_b, G_b))
  } else if (method == "ipw") {
    mu <- sum(r * w * y) / sum(r * w)
    psi <- r * w * (y - mu)
    D <- mean(r * w)
    G_g <- colMeans(X * (r * dw * (y - mu)))
    extra <- s_g %*% solve(I_g, G_g)
  } else {
    mu <- (sum(h * m) + sum(r * w * (y - m))) / sum(h)
    psi <- h * (m - mu) + r * w * (y - m)
    D <- mean(h)
    G_g <- colMeans(X * (dh * (m - mu) + r * dw * (y - m)))
    G_b <- colMeans(X * ((h - r * w) * v))
    extra <- s_g %*% solve(I_g, G_g) + (r * (y - m)) * (X %*% solve(I_b, G_b))
  }
  list(mu = mu, phi = as.vector(psi + extra) / D)
}

rows <- list()
add <- function(treatment, estimand, method, outcome, quantity, est, phi, eps = 0) {
  rows[[length(rows) + 1]] <<- data.frame(
    treatment = treatment, estimand = estimand, method = method, outcome = outcome,
    truncate = eps, quantity = quantity, estimate = est, se = var_se(phi),
    se_cluster = var_se_cl(phi))
}
for (estimand in c("ATE", "ATT", "ATO")) {
  for (method in c("naive", "regression", "ipw", "aipw")) {
    for (outcome in c("yb", "yc")) {
      binary <- outcome == "yb"
      y <- d[[outcome]]
      f1 <- arm_if(y, binary, estimand, method, 1)
      f0 <- arm_if(y, binary, estimand, method, 0)
      add("treat", estimand, method, outcome, "mu_0", f0$mu, f0$phi)
      add("treat", estimand, method, outcome, "mu_1", f1$mu, f1$phi)
      add("treat", estimand, method, outcome, "difference", f1$mu - f0$mu, f1$phi - f0$phi)
      if (binary) {
        add("treat", estimand, method, outcome, "log_ratio", log(f1$mu / f0$mu),
            f1$phi / f1$mu - f0$phi / f0$mu)
      }
    }
  }
}

# propensity scores truncated at 0.1 (ATE, IPW and AIPW)
for (method in c("ipw", "aipw")) {
  for (outcome in c("yb", "yc")) {
    y <- d[[outcome]]
    f1 <- arm_if(y, outcome == "yb", "ATE", method, 1, eps = 0.1)
    f0 <- arm_if(y, outcome == "yb", "ATE", method, 0, eps = 0.1)
    add("treat", "ATE", method, outcome, "mu_0", f0$mu, f0$phi, eps = 0.1)
    add("treat", "ATE", method, outcome, "mu_1", f1$mu, f1$phi, eps = 0.1)
    add("treat", "ATE", method, outcome, "difference", f1$mu - f0$mu, f1$phi - f0$phi,
        eps = 0.1)
  }
}
cat("rows with a truncated score:", sum(e < 0.1 | e > 0.9), "\n")

# ---------------------------------------------------------------- three arms (arm3)
# Multinomial logistic propensity model by Newton's method (reference arm FH), with the
# generalised weights; derivatives through d e_l / d eta_c = e_l (1{l=c} - e_c).
levels3 <- c("FH", "HVB", "SIS")
a3 <- match(d$arm3, levels3)
K <- 3
p <- ncol(X)
Ind <- outer(a3, 1:K, "==") * 1
softmax <- function(g) {
  eta <- cbind(0, X %*% g)
  ex <- exp(eta - apply(eta, 1, max))
  ex / rowSums(ex)
}
info_multi <- function(E) {
  I <- matrix(0, (K - 1) * p, (K - 1) * p)
  for (j in 2:K) for (l in 2:K) {
    wt <- E[, j] * ((j == l) - E[, l])
    I[(j - 2) * p + 1:p, (l - 2) * p + 1:p] <- crossprod(X * wt, X)
  }
  I
}
g <- matrix(0, p, K - 1)
for (it in 1:100) {
  E <- softmax(g)
  score <- as.vector(crossprod(X, Ind[, -1] - E[, -1]))
  step <- matrix(solve(info_multi(E), score), p, K - 1)
  g <- g + step
  if (max(abs(step)) < 1e-12) break
}
E <- softmax(g)
I3 <- info_multi(E) / n
S3 <- do.call(cbind, lapply(2:K, function(c) X * (Ind[, c] - E[, c])))

multi_if <- function(y, binary, estimand, method, arm, target = 2) {
  # h, w_a and d/d e_l of both; then chain rule to the multinomial coefficients
  if (estimand == "ATE") {
    h <- rep(1, n); dh <- matrix(0, n, K)
    w <- 1 / E[, arm]; dw <- matrix(0, n, K); dw[, arm] <- -1 / E[, arm]^2
  } else if (estimand == "ATT") {
    h <- Ind[, target]; dh <- matrix(0, n, K)
    w <- E[, target] / E[, arm]; dw <- matrix(0, n, K)
    dw[, target] <- dw[, target] + 1 / E[, arm]
    dw[, arm] <- dw[, arm] - E[, target] / E[, arm]^2
  } else {
    h <- 1 / rowSums(1 / E); dh <- h^2 / E^2
    w <- h / E[, arm]; dw <- dh / E[, arm]; dw[, arm] <- dw[, arm] - h / E[, arm]^2
  }
  r <- Ind[, arm]
  if (method == "aipw") {
    sub <- d[r == 1, ]
    sub$y <- y[r == 1]
    fam <- if (binary) binomial() else gaussian()
    of <- glm(y ~ age + sex + behav + placement, family = fam, data = sub, control = ctl)
    m <- as.vector(X %*% coef(of))
    if (binary) m <- plogis(m)
    v <- if (binary) m * (1 - m) else rep(1, n)
    I_b <- crossprod(X * (r * v), X) / n
    mu <- (sum(h * m) + sum(r * w * (y - m))) / sum(h)
    psi <- h * (m - mu) + r * w * (y - m)
    dpsi <- dh * (m - mu) + (r * (y - m)) * dw         # n x K: d psi / d e_l
    D <- mean(h)
    G_b <- colMeans(X * ((h - r * w) * v))
    extra_b <- (r * (y - m)) * (X %*% solve(I_b, G_b))
  } else {                                              # ipw
    mu <- sum(r * w * y) / sum(r * w)
    psi <- r * w * (y - mu)
    dpsi <- (r * (y - mu)) * dw
    D <- mean(r * w)
    extra_b <- 0
  }
  G_g <- unlist(lapply(2:K, function(c) {
    de_c <- E * (outer(rep(1, n), 1:K) == c) - E * E[, c]   # d e_l / d eta_c, n x K
    colMeans(X * rowSums(dpsi * de_c))
  }))
  phi <- (psi + S3 %*% solve(I3, G_g) + extra_b) / D
  list(mu = mu, phi = as.vector(phi))
}
for (estimand in c("ATE", "ATT", "ATO")) {
  for (method in c("ipw", "aipw")) {
    for (outcome in c("yb", "yc")) {
      binary <- outcome == "yb"
      y <- d[[outcome]]
      fs <- lapply(1:K, function(a) multi_if(y, binary, estimand, method, a))
      for (a in 1:K) add("arm3", estimand, method, outcome, paste0("mu_", levels3[a]),
                         fs[[a]]$mu, fs[[a]]$phi)
      for (a in 2:K) {
        add("arm3", estimand, method, outcome, paste0("difference_", levels3[a]),
            fs[[a]]$mu - fs[[1]]$mu, fs[[a]]$phi - fs[[1]]$phi)
      }
    }
  }
}

out <- do.call(rbind, rows)
write.csv(out, file.path(dir, "effects_estimates.csv"), row.names = FALSE)
writeLines(sprintf('{"R": "%s", "stats": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("stats")), R.version$platform),
           file.path(dir, "effects_versions.json"))
