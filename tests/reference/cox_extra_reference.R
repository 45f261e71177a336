# Reference values for the Cox extras in tests/models/test_cox.py: case weights, Breslow ties,
# cox.zph and adjusted survival by direct standardisation (survfit(fit, newdata = nd)).
# Run from the repository root:  Rscript tests/reference/cox_extra_reference.R
# Inputs (written by Python, see below):
#   tests/reference/cox_data.csv     from cox_reference.R
#   tests/reference/cox_weights.csv  case weights aligned by row with cox_data.csv:
#     rng = numpy.random.default_rng(20261125); wint = rng.integers(1, 4, n);
#     wfrac = numpy.round(rng.uniform(0.2, 3.0, n), 3)
#   tests/reference/rossi.csv        lifelines.datasets.load_rossi() (Rossi et al. 1980),
#     written with DataFrame.to_csv(index=False)
# Outputs:
#   cox_extra_coef.csv   (model, term, coef, se_naive, se, robust, loglik, n, n_event)
#   cox_extra_zph.csv    (model, transform, term, chisq, df, p)       cox.zph(fit)$table
#   cox_extra_zph_resid.csv (model, event, time, x, term, y)          cox.zph(fit) $time $x $y
#   cox_extra_adjsurv.csv (model, group, time, estimate)   rowMeans(survfit(fit, newdata)$surv)
#   cox_extra_adjsurv_strata.csv  the same for a stratified model, at fixed times
#   cox_extra_versions.json
library(survival)

dir <- "tests/reference"
d <- read.csv(file.path(dir, "cox_data.csv"), stringsAsFactors = TRUE)
w <- read.csv(file.path(dir, "cox_weights.csv"))
d$wint <- as.numeric(w$wint)  # cox.zph needs double weights (REAL() error)
d$wfrac <- w$wfrac
rossi <- read.csv(file.path(dir, "rossi.csv"))
ctl <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 50)

fits <- list(
  # integer weights: R keeps the model-based variance
  w_int = coxph(Surv(stop, status == 2) ~ x1 + x2 + x3, data = d, weights = wint,
                control = ctl),
  # non-integer weights: R switches to robust = TRUE (each row its own cluster)
  w_frac = coxph(Surv(stop, status == 2) ~ x1 + x2 + x3, data = d, weights = wfrac,
                 control = ctl),
  w_int_cluster = coxph(Surv(stop, status == 2) ~ x1 + x2 + x3, data = d, weights = wint,
                        cluster = child, control = ctl),
  w_frac_entry_strata_cluster = coxph(Surv(entry, stop, status == 2) ~ x1 + x2 + x3 +
                                        strata(muni), data = d, weights = wfrac,
                                      cluster = child, control = ctl),
  w_frac_factor = coxph(Surv(stop, status == 2) ~ x1 + placement, data = d, weights = wfrac,
                        control = ctl),
  breslow = coxph(Surv(stop, status == 2) ~ x1 + x2 + x3, data = d, ties = "breslow",
                  control = ctl),
  breslow_w_entry_cluster = coxph(Surv(entry, stop, status == 2) ~ x1 + x2 + x3, data = d,
                                  ties = "breslow", weights = wfrac, cluster = child,
                                  control = ctl),
  rossi = coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio,
                data = rossi, control = ctl),
  factor = coxph(Surv(stop, status == 2) ~ x1 + placement + x3, data = d, control = ctl),
  strata = coxph(Surv(stop, status == 2) ~ x1 + x2 + x3 + strata(muni), data = d,
                 control = ctl),
  entry_strata = coxph(Surv(entry, stop, status == 2) ~ x1 + x2 + x3 + strata(muni),
                       data = d, control = ctl),
  breslow_factor = coxph(Surv(stop, status == 2) ~ x1 + placement, data = d,
                         ties = "breslow", control = ctl)
)
rows <- lapply(names(fits), function(m) {
  f <- fits[[m]]
  robust <- !is.null(f$naive.var)
  naive <- if (robust) sqrt(diag(f$naive.var)) else sqrt(diag(f$var))
  data.frame(model = m, term = names(coef(f)), coef = unname(coef(f)), se_naive = unname(naive),
             se = unname(sqrt(diag(f$var))), robust = robust, loglik = f$loglik[2], n = f$n,
             n_event = f$nevent)
})
write.csv(do.call(rbind, rows), file.path(dir, "cox_extra_coef.csv"), row.names = FALSE)

zph_runs <- list(
  c("rossi", "km"), c("rossi", "identity"), c("rossi", "rank"), c("rossi", "log"),
  c("factor", "km"), c("strata", "km"), c("entry_strata", "km"), c("entry_strata", "rank"),
  c("w_int", "km"), c("w_frac", "km"), c("breslow_w_entry_cluster", "km"),
  c("breslow_factor", "identity")
)
zph <- lapply(zph_runs, function(r) {
  tab <- cox.zph(fits[[r[1]]], transform = r[2])$table
  data.frame(model = r[1], transform = r[2], term = rownames(tab), chisq = tab[, "chisq"],
             df = tab[, "df"], p = tab[, "p"])
})
write.csv(do.call(rbind, zph), file.path(dir, "cox_extra_zph.csv"), row.names = FALSE)

resid <- lapply(c("rossi", "factor", "strata", "entry_strata"), function(m) {
  z <- cox.zph(fits[[m]])
  y <- unname(z$y)
  do.call(rbind, lapply(seq_len(ncol(z$y)), function(j)
    data.frame(model = m, event = seq_along(z$time), time = z$time, x = z$x,
               term = colnames(z$y)[j], y = y[, j])))
})
write.csv(do.call(rbind, resid), file.path(dir, "cox_extra_zph_resid.csv"), row.names = FALSE)

adjusted <- function(fit, data, variable, levels) {
  do.call(rbind, lapply(levels, function(lev) {
    nd <- data
    nd[[variable]] <- if (is.factor(data[[variable]]))
      factor(lev, levels = levels(data[[variable]])) else lev
    sf <- survfit(fit, newdata = nd)
    data.frame(group = as.character(lev), time = sf$time, estimate = rowMeans(sf$surv))
  }))
}
adj_fits <- list(
  placement = coxph(Surv(stop, status == 2) ~ x1 + x3 + placement, data = d, control = ctl),
  entry_weights = coxph(Surv(entry, stop, status == 2) ~ x1 + placement, data = d,
                        weights = wint, control = ctl),
  breslow = coxph(Surv(stop, status == 2) ~ x1 + placement, data = d, ties = "breslow",
                  control = ctl),
  rossi_fin = coxph(Surv(week, arrest) ~ fin + age + prio, data = rossi, control = ctl)
)
adj <- list(
  cbind(model = "placement", adjusted(adj_fits$placement, d, "placement", levels(d$placement))),
  cbind(model = "entry_weights", adjusted(adj_fits$entry_weights, d, "placement",
                                          levels(d$placement))),
  cbind(model = "breslow", adjusted(adj_fits$breslow, d, "placement", levels(d$placement))),
  cbind(model = "rossi_fin", adjusted(adj_fits$rossi_fin, rossi, "fin", c(0, 1)))
)
write.csv(do.call(rbind, adj), file.path(dir, "cox_extra_adjsurv.csv"), row.names = FALSE)

# Stratified model: each row's curve in its own stratum (newdata holds muni), averaged at
# fixed times with summary(..., extend = TRUE); written to cox_extra_adjsurv_strata.csv
fit_s <- coxph(Surv(entry, stop, status == 2) ~ x1 + placement + strata(muni), data = d,
               control = ctl)
grid <- c(1, 10, 30, 60, 100, 150, 200, 300, 400, 500, 600, 700, 800, 900)
adj_s <- do.call(rbind, lapply(levels(d$placement), function(lev) {
  nd <- d
  nd$placement <- factor(lev, levels = levels(d$placement))
  s <- summary(survfit(fit_s, newdata = nd), times = grid, extend = TRUE)
  data.frame(model = "strata_entry", group = lev, time = grid,
             estimate = rowMeans(matrix(s$surv, nrow = length(grid))))
}))
write.csv(adj_s, file.path(dir, "cox_extra_adjsurv_strata.csv"), row.names = FALSE)

writeLines(sprintf('{"R": "%s", "survival": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survival")), R.version$platform),
           file.path(dir, "cox_extra_versions.json"))
