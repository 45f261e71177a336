# Reference values for tests/models/test_multistate.py (Aalen-Johansen state occupation).
# Run from the repository root:  Rscript tests/reference/multistate_reference.R
# Input : tests/reference/multistate_hand.csv (12 made-up ids with ties; written by
#         tests/models/test_multistate.py) and tests/reference/multistate_journey.csv (journey_states()
#         of synth.generate(n_children=100, n_municipalities=3, seed=5), both origins).
#         Columns: id, tstart, tstop, state (entered at tstop, "" = censored), istate (state
#         during the interval), group.
# Output: tests/reference/multistate_pstate.csv (fit, group, state, time, n_risk, n_event,
#         estimate, se, ci_lower, ci_upper), multistate_p0.csv (fit, group, state, p0) and
#         multistate_reference_versions.json.
library(survival)

dir <- "tests/reference"
out <- function(x, name) write.csv(x, file.path(dir, name), row.names = FALSE)

ms_table <- function(fit, label) {
  st <- fit$states
  nt <- length(fit$time)
  grp <- if (is.null(fit$strata)) rep(NA, nt) else
    rep(sub("^.*=", "", names(fit$strata)), fit$strata)
  data.frame(fit = label, group = rep(grp, length(st)), state = rep(st, each = nt),
             time = rep(fit$time, length(st)), n_risk = as.vector(fit$n.risk),
             n_event = as.vector(fit$n.event), estimate = as.vector(fit$pstate),
             se = as.vector(fit$std.err), ci_lower = as.vector(fit$lower),
             ci_upper = as.vector(fit$upper))
}
p0_table <- function(fit, label) {
  p0 <- if (is.matrix(fit$p0)) fit$p0 else matrix(fit$p0, nrow = 1,
                                                  dimnames = list(NA, fit$states))
  data.frame(fit = label, group = rep(rownames(p0), ncol(p0)),
             state = rep(colnames(p0), each = nrow(p0)), p0 = as.vector(p0))
}
# survfit() with a factor state: the first level means censored; the rest are the states.
as_ms <- function(d, order) {
  entered <- order[order %in% d$state]
  d$state <- factor(d$state, levels = c("", entered))
  d$istate <- factor(d$istate, levels = order[order %in% d$istate])
  d
}

tabs <- list()
p0s <- list()
add <- function(fit, label) {
  tabs[[label]] <<- ms_table(fit, label)
  p0s[[label]] <<- p0_table(fit, label)
}

# --- hand-made data with ties ------------------------------------------------------------
h <- read.csv(file.path(dir, "multistate_hand.csv"), stringsAsFactors = FALSE,
              na.strings = "NA")
h <- as_ms(h, c("FH", "HVB", "end"))
add(survfit(Surv(tstart, tstop, state) ~ group, data = h, id = id, istate = istate),
    "hand_by_group")
add(survfit(Surv(tstart, tstop, state) ~ 1, data = h, id = id, istate = istate), "hand")
# Without istate every id starts in R's unnamed state "(s0)".
add(survfit(Surv(tstart, tstop, state) ~ 1, data = h, id = id), "hand_s0")

# --- synthetic journey -------------------------------------------------------------------
j <- read.csv(file.path(dir, "multistate_journey.csv"), stringsAsFactors = FALSE,
              na.strings = "NA")
journey <- c("investigation", "family_home", "residential", "ended_planned",
             "ended_unplanned", "re_referred")
for (origin in c("placement", "referral")) {
  d <- as_ms(j[j$origin == origin, ], journey)
  add(survfit(Surv(tstart, tstop, state) ~ first_setting, data = d, id = episode_id,
              istate = istate), paste0("journey_", origin, "_by_setting"))
}

out(do.call(rbind, tabs), "multistate_pstate.csv")
out(do.call(rbind, p0s), "multistate_p0.csv")
writeLines(sprintf('{"R": "%s", "survival": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survival")), R.version$platform),
           file.path(dir, "multistate_reference_versions.json"))
