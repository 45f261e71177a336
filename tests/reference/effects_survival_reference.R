# Reference values for tests/models/test_effects_survival.py (weighted KM and Aalen-Johansen).
# Run from the repository root:  Rscript tests/reference/effects_survival_reference.R
# Input : tests/reference/effects_survival_data.csv, written by Python from
#         evaluation.data.synth.generate(n_children=900, n_municipalities=10, seed=11): the FH and
#         HVB episodes; time = days from start to end (or to the window end 2024-12-31 if
#         ongoing); event 0 censored / 1 unplanned / 2 planned ending; arm FH/HVB;
#         age_13plus, behaviour (criminality or child substance use); w = ATE weight
#         1/e or 1/(1-e) from a statsmodels logistic GLM arm == HVB ~ age_13plus + behaviour
#         (float_format %.17g).
# R warns "NaNs produced" from survfit's log-scale confidence limits where a curve reaches
# 0; the limits are not used.
# Output: tests/reference/effects_survival_{km,aj,rmst}.csv and
#         effects_survival_reference_versions.json
library(survival)

dir <- "tests/reference"
d <- read.csv(file.path(dir, "effects_survival_data.csv"), stringsAsFactors = FALSE)
d$any <- as.integer(d$event > 0)
out <- function(x, name) write.csv(x, file.path(dir, name), row.names = FALSE)
arm_of <- function(fit) rep(sub("arm=", "", names(fit$strata)), fit$strata)

# --- weighted Kaplan-Meier of any ending. With non-integer weights survfit's std.err is the
# infinitesimal-jackknife SE of the survival probability (it equals std.err of the (s0) state
# of the multi-state fit below).
km <- survfit(Surv(time, any) ~ arm, data = d, weights = w)
out(data.frame(group = arm_of(km), time = km$time, n_risk = km$n.risk, n_event = km$n.event,
               n_censor = km$n.censor, surv = km$surv, std_err = km$std.err),
    "effects_survival_km.csv")

# --- weighted Aalen-Johansen, unplanned (1) vs planned (2) ending; IJ variance (default)
d$state <- factor(d$event, 0:2, c("censor", "unplanned", "planned"))
aj <- survfit(Surv(time, state) ~ arm, data = d, weights = w)
k <- match("unplanned", aj$states)
s0 <- match("(s0)", aj$states)
out(data.frame(group = arm_of(aj), time = aj$time, n_risk = aj$n.risk[, s0],
               n_event = aj$n.event[, k], cif = aj$pstate[, k], se_cif = aj$std.err[, k],
               surv = aj$pstate[, s0], se_surv = aj$std.err[, s0]),
    "effects_survival_aj.csv")

# --- restricted mean event-free time at 365 days (weighted KM of any ending)
rm <- summary(km, rmean = 365)$table
out(data.frame(group = sub("arm=", "", rownames(rm)), tau = 365, rmean = rm[, "rmean"]),
    "effects_survival_rmst.csv")

writeLines(sprintf('{"R": "%s", "survival": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survival")), R.version$platform),
           file.path(dir, "effects_survival_reference_versions.json"))
