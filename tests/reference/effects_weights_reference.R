# Reference values for tests/models/test_effects_pairs_weights.py: evaluation.models.effects.estimate_effect
# with sampling weights (weights_col).
# Run from the repository root:  Rscript tests/reference/effects_weights_reference.R
# Reads tests/reference/effects_weights_data.csv (900 synthetic rows written by
# tests/models/test_effects_pairs_weights.py::make_weights_data; columns child (cluster id), age, sex,
# behav, region (M/N/S), treat (0/1), arm3 (FH/HVB/SIS), yb (0/1), yc (continuous), w_int
# (integer weights 1-5), w_frac (non-integer inverse sampling probabilities)) and writes
#   tests/reference/effects_weights_estimates.csv (weights, treatment, estimand, method,
#       outcome, quantity, estimate, se, se_cluster, se_numderiv)
#   tests/reference/effects_weights_versions.json
#
# Models, all with the sampling weights s:
#   propensity  two arms: glm(A ~ covs, family = quasibinomial, weights = s)
#               three arms: nnet::multinom(arm3 ~ covs, weights = s) (reference arm FH)
#   outcome     per arm: glm(y ~ covs, family = quasibinomial (yb) / gaussian (yc),
#               weights = s, subset = arm)
# Arm means (h, w_a as in effects_reference.R: ATE h = 1, w_a = 1/e_a; ATT in population t
# h = 1{A=t}, w_a = e_t/e_a):
#   naive       mu = sum(s 1{A=a} Y) / sum(s 1{A=a})
#   regression  mu = sum(s h m_a) / sum(s h)
#   ipw         mu = sum(s 1{A=a} w_a Y) / sum(s 1{A=a} w_a)
#   aipw        mu = (sum(s h m_a) + sum(s 1{A=a} w_a (Y - m_a))) / sum(s h)
# Survey-style linearisation (every estimating function multiplied by s):
#   phi = s (psi + G_g' I_g^-1 score_g + G_b' I_b^-1 score_b) / D
# with G, I, D weighted means over the n rows; var = sum(phi^2) / n^2 (clustered: sum over
# children of (sum phi)^2 / n^2), no n / (n - 1) factor.
# se_numderiv: the same sandwich with the bread as the NUMERICAL Jacobian (numDeriv,
# Richardson) of the mean stacked estimating functions, a check on the derivatives above.

suppressPackageStartupMessages({library(nnet); library(numDeriv)})
dir <- "tests/reference"
d <- read.csv(file.path(dir, "effects_weights_data.csv"), stringsAsFactors = FALSE)
d$region <- factor(d$region, levels = c("M", "N", "S"))
n <- nrow(d)
fml <- ~ age + sex + behav + region
X <- model.matrix(fml, data = d)
p <- ncol(X)
ctl <- glm.control(epsilon = 1e-14, maxit = 100)

softmax <- function(g) {                      # g: p x (K - 1)
  eta <- cbind(0, X %*% g)
  ex <- exp(eta - apply(eta, 1, max))
  ex / rowSums(ex)
}

fit_ps <- function(arm, lev, s) {
  # weighted propensity model; returns coefficients (p x (K-1)) and fitted scores (n x K)
  dd <- d
  dd$.s <- s
  if (length(lev) == 2) {
    dd$.a <- as.numeric(arm == lev[2])
    f <- glm(.a ~ age + sex + behav + region, family = quasibinomial, weights = .s, data = dd,
             control = ctl)
    g <- matrix(coef(f), p, 1)
    return(list(g = g, E = cbind(1 - fitted(f), fitted(f)), polish = 0))
  }
  dd$.a <- factor(arm, levels = lev)
  f <- multinom(.a ~ age + sex + behav + region, data = dd, weights = .s, trace = FALSE,
                maxit = 10000, reltol = 1e-16)
  g <- t(coef(f))                              # p x (K - 1), columns HVB, SIS
  # nnet's BFGS stops near, not at, the optimum: finish with Newton steps on the same
  # weighted likelihood and record how far they moved the coefficients
  g0 <- g
  Ind <- outer(match(arm, lev), seq_along(lev), "==") * 1
  for (it in 1:50) {
    E <- softmax(g)
    score <- as.vector(crossprod(X, s * (Ind[, -1] - E[, -1])))
    step <- matrix(solve(ps_info(E, s), score), p, length(lev) - 1)
    g <- g + step
    if (max(abs(step)) < 1e-13) break
  }
  list(g = g, E = softmax(g), polish = max(abs(g - g0)))
}

ps_info <- function(E, s) {
  # weighted Fisher information of the multinomial (K = 2: logistic) model, blocks by arm
  K <- ncol(E)
  I <- matrix(0, (K - 1) * p, (K - 1) * p)
  for (j in 2:K) for (l in 2:K) {
    I[(j - 2) * p + 1:p, (l - 2) * p + 1:p] <- crossprod(X * (s * E[, j] * ((j == l) - E[, l])),
                                                         X)
  }
  I
}

tilt <- function(E, Ind, estimand, a, target) {
  # h, w_a and their derivatives with respect to the scores e_l (n x K)
  K <- ncol(E)
  dh <- matrix(0, n, K)
  dw <- matrix(0, n, K)
  if (estimand == "ATE") {
    h <- rep(1, n)
    w <- 1 / E[, a]
    dw[, a] <- -1 / E[, a]^2
  } else {
    h <- Ind[, target]
    w <- E[, target] / E[, a]
    dw[, target] <- dw[, target] + 1 / E[, a]
    dw[, a] <- dw[, a] - E[, target] / E[, a]^2
  }
  list(h = h, dh = dh, w = w, dw = dw)
}

fit_outcome <- function(y, binary, r, s) {
  dd <- d
  dd$.y <- y
  dd$.s <- s
  fam <- if (binary) quasibinomial() else gaussian()
  f <- glm(.y ~ age + sex + behav + region, family = fam, weights = .s, data = dd,
           subset = r == 1, control = ctl)
  coef(f)
}

arm_if <- function(y, binary, ps, Ind, s, estimand, method, a, target) {
  E <- ps$E
  K <- ncol(E)
  tl <- tilt(E, Ind, estimand, a, target)
  h <- tl$h; w <- tl$w
  r <- Ind[, a]
  extra_b <- 0
  beta <- NULL
  if (method %in% c("regression", "aipw")) {
    beta <- fit_outcome(y, binary, r, s)
    m <- as.vector(X %*% beta)
    if (binary) m <- plogis(m)
    v <- if (binary) m * (1 - m) else rep(1, n)
    I_b <- crossprod(X * (s * r * v), X) / n
  }
  if (method == "naive") {
    mu <- sum(s * r * y) / sum(s * r)
    psi <- s * r * (y - mu)
    D <- mean(s * r)
    dpsi <- matrix(0, n, K)
  } else if (method == "regression") {
    mu <- sum(s * h * m) / sum(s * h)
    psi <- s * h * (m - mu)
    D <- mean(s * h)
    dpsi <- s * tl$dh * (m - mu)
    G_b <- colMeans(X * (s * h * v))
    extra_b <- s * r * (y - m) * (X %*% solve(I_b, G_b))
  } else if (method == "ipw") {
    mu <- sum(s * r * w * y) / sum(s * r * w)
    psi <- s * r * w * (y - mu)
    D <- mean(s * r * w)
    dpsi <- (s * r * (y - mu)) * tl$dw
  } else {
    mu <- (sum(s * h * m) + sum(s * r * w * (y - m))) / sum(s * h)
    psi <- s * (h * (m - mu) + r * w * (y - m))
    D <- mean(s * h)
    dpsi <- s * (tl$dh * (m - mu) + (r * (y - m)) * tl$dw)
    G_b <- colMeans(X * (s * (h - r * w) * v))
    extra_b <- s * r * (y - m) * (X %*% solve(I_b, G_b))
  }
  G_g <- unlist(lapply(2:K, function(c) {
    de_c <- E * (outer(rep(1, n), 1:K) == c) - E * E[, c]   # d e_l / d eta_c
    colMeans(X * rowSums(dpsi * de_c))
  }))
  S_g <- do.call(cbind, lapply(2:K, function(c) s * X * (Ind[, c] - E[, c])))
  extra_g <- S_g %*% solve(ps_info(E, s) / n, G_g)
  list(mu = mu, phi = as.vector(psi + extra_g + extra_b) / D, beta = beta)
}

stacked <- function(theta, y, binary, Ind, s, estimand, method, target) {
  # all estimating functions (n x q), each multiplied by s, at theta = (gamma, betas, mus)
  K <- ncol(Ind)
  q_ps <- p * (K - 1)
  E <- softmax(matrix(theta[1:q_ps], p, K - 1))
  out <- do.call(cbind, lapply(2:K, function(c) s * X * (Ind[, c] - E[, c])))
  k <- q_ps
  m <- matrix(0, n, K)
  if (method %in% c("regression", "aipw")) {
    for (j in 1:K) {
      eta <- drop(X %*% theta[k + 1:p]); k <- k + p
      m[, j] <- if (binary) plogis(eta) else eta
      out <- cbind(out, s * X * (Ind[, j] * (y - m[, j])))
    }
  }
  mu <- theta[k + 1:K]
  for (j in 1:K) {
    tl <- tilt(E, Ind, estimand, j, target)
    r <- Ind[, j]
    f <- switch(method,
                naive = r * (y - mu[j]),
                regression = tl$h * (m[, j] - mu[j]),
                ipw = r * tl$w * (y - mu[j]),
                aipw = tl$h * (m[, j] - mu[j]) + r * tl$w * (y - m[, j]))
    out <- cbind(out, s * f)
  }
  out
}

numderiv_cov <- function(theta, y, binary, Ind, s, estimand, method, target) {
  psi <- stacked(theta, y, binary, Ind, s, estimand, method, target)
  stopifnot(max(abs(colMeans(psi))) < 1e-8)
  bread <- jacobian(function(t) colMeans(stacked(t, y, binary, Ind, s, estimand, method,
                                                  target)), theta, method = "Richardson")
  binv <- solve(bread)
  V <- binv %*% (crossprod(psi) / n) %*% t(binv) / n
  K <- ncol(Ind)
  qq <- length(theta) - K + 1:K
  V[qq, qq]
}

se <- function(phi) sqrt(sum(phi^2)) / n
se_cl <- function(phi) sqrt(sum(rowsum(phi, d$child)^2)) / n

designs <- list(treat = list(arm = as.character(d$treat), lev = c("0", "1"), target = 2),
                arm3 = list(arm = d$arm3, lev = c("FH", "HVB", "SIS"), target = 2))
rows <- list()
polish <- c()
for (wname in c("w_int", "w_frac")) {
  s <- d[[wname]]
  for (tname in names(designs)) {
    des <- designs[[tname]]
    K <- length(des$lev)
    Ind <- outer(match(des$arm, des$lev), 1:K, "==") * 1
    ps <- fit_ps(des$arm, des$lev, s)
    polish[paste(wname, tname)] <- ps$polish
    for (estimand in c("ATE", "ATT")) {
      for (method in c("naive", "regression", "ipw", "aipw")) {
        for (outcome in c("yb", "yc")) {
          binary <- outcome == "yb"
          y <- d[[outcome]]
          fs <- lapply(1:K, function(a) arm_if(y, binary, ps, Ind, s, estimand, method, a,
                                               des$target))
          mu <- sapply(fs, `[[`, "mu")
          phi <- sapply(fs, `[[`, "phi")
          theta <- c(as.vector(ps$g), unlist(lapply(fs, `[[`, "beta")), mu)
          Vn <- numderiv_cov(theta, y, binary, Ind, s, estimand, method, des$target)
          add <- function(quantity, est, g) {
            rows[[length(rows) + 1]] <<- data.frame(
              weights = wname, treatment = tname, estimand = estimand, method = method,
              outcome = outcome, quantity = quantity, estimate = est,
              se = se(phi %*% g), se_cluster = se_cl(phi %*% g),
              se_numderiv = sqrt(drop(t(g) %*% Vn %*% g)))
          }
          for (a in 1:K) add(paste0("mu_", des$lev[a]), mu[a], diag(K)[, a])
          for (c in 1:(K - 1)) for (t in (c + 1):K) {
            g <- numeric(K); g[t] <- 1; g[c] <- -1
            pair <- paste0(des$lev[t], "_", des$lev[c])
            add(paste0("difference_", pair), mu[t] - mu[c], g)
            if (binary) {
              g <- numeric(K); g[t] <- 1 / mu[t]; g[c] <- -1 / mu[c]
              add(paste0("log_ratio_", pair), log(mu[t] / mu[c]), g)
            }
          }
        }
      }
    }
  }
}
out <- do.call(rbind, rows)
rel <- abs(out$se_numderiv / out$se - 1)
cat("max relative difference, analytic vs numerical-Jacobian SE:", max(rel), "\n")
cat("max change of the multinom coefficients by the Newton polish:", max(polish), "\n")
stopifnot(max(rel) < 1e-6)
write.csv(out, file.path(dir, "effects_weights_estimates.csv"), row.names = FALSE)
writeLines(sprintf(paste0('{"R": "%s", "stats": "%s", "nnet": "%s", "numDeriv": "%s", ',
                          '"platform": "%s", "multinom_newton_polish_max_change": %.3g}'),
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("stats")), as.character(packageVersion("nnet")),
                   as.character(packageVersion("numDeriv")), R.version$platform, max(polish)),
           file.path(dir, "effects_weights_versions.json"))
