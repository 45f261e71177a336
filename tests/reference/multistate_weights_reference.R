# Reference values for tests/models/test_multistate_weights.py (Aalen-Johansen with case weights).
# Run from the repository root:  Rscript tests/reference/multistate_weights_reference.R
# Input : the data of tests/reference/multistate_reference.R (multistate_hand.csv,
#         multistate_journey.csv) and tests/reference/multistate_weights_ids.csv (one case
#         weight per id, written by tests/models/test_multistate_weights.py): columns data ("hand" or
#         "journey"), id, w (non-integer weight), wi (integer weight, hand ids only).
# Output: tests/reference/multistate_weights_pstate.csv (fit, group, state, time, n_risk,
#         n_event, estimate, se, ci_lower, ci_upper), multistate_weights_p0.csv (fit, group,
#         state, p0) and multistate_weights_versions.json. Numbers are written with 17
#         significant digits (write.csv keeps only 15). R warns "NaNs produced" from its log
#         confidence limits (the NaN fit below, and pstate of -1e-17 rounding noise).
library(survival)

dir <- "tests/reference"
out <- function(x, name) {
  num <- vapply(x, is.double, logical(1))
  x[num] <- lapply(x[num], function(v) ifelse(is.na(v), NA, sprintf("%.17g", v)))
  write.csv(x, file.path(dir, name), row.names = FALSE, quote = which(!num), na = "NA")
}

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
  data.frame(fit = label, group = sub("^.*=", "", rep(rownames(p0), ncol(p0))),
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

ids <- read.csv(file.path(dir, "multistate_weights_ids.csv"), stringsAsFactors = FALSE,
                na.strings = "NA")

# --- hand-made data with ties, non-integer weights -----------------------------------------
h <- read.csv(file.path(dir, "multistate_hand.csv"), stringsAsFactors = FALSE,
              na.strings = "NA")
hw <- ids[ids$data == "hand", ]
h$w <- hw$w[match(h$id, as.integer(hw$id))]
h$wi <- hw$wi[match(h$id, as.integer(hw$id))]
h <- as_ms(h, c("FH", "HVB", "end"))
add(survfit(Surv(tstart, tstop, state) ~ group, data = h, id = id, istate = istate,
            weights = w), "hand_by_group")
add(survfit(Surv(tstart, tstop, state) ~ 1, data = h, id = id, istate = istate,
            weights = w), "hand")
add(survfit(Surv(tstart, tstop, state) ~ 1, data = h, id = id, weights = w), "hand_s0")

# --- integer weights versus each id repeated wi times (as separate ids) --------------------
add(survfit(Surv(tstart, tstop, state) ~ 1, data = h, id = id, istate = istate,
            weights = wi), "hand_integer")
hd <- h[rep(seq_len(nrow(h)), h$wi), ]
hd$copy <- ave(seq_len(nrow(hd)), hd$id, hd$tstart, FUN = seq_along)
hd$id2 <- paste(hd$id, hd$copy, sep = "_")
# survfit's merge of interior censored rows assumes each id's rows are consecutive and in
# time order in the data (survival 3.5-3); sort, or the repeated id 9 is merged wrongly.
hd <- hd[order(hd$id2, hd$tstart), ]
add(survfit(Surv(tstart, tstop, state) ~ 1, data = hd, id = id2, istate = istate),
    "hand_repeated")

# --- zero weights versus dropping the id ---------------------------------------------------
zero_vs_drop <- function(d, drop, label) {
  dz <- d
  dz$w[dz$id %in% drop] <- 0
  add(survfit(Surv(tstart, tstop, state) ~ 1, data = dz, id = id, istate = istate,
              weights = w), paste0(label, "_zero"))
  dd <- droplevels(d[!(d$id %in% drop), ])
  dd$state <- factor(as.character(dd$state), levels = levels(d$state))
  add(survfit(Surv(tstart, tstop, state) ~ 1, data = dd, id = id, istate = istate,
              weights = w), paste0(label, "_drop"))
}
# id 7 (FH -> end at 7): R agrees with dropping apart from reporting time 7 and n.risk.
zero_vs_drop(h, 7, "hand_id7")
# id 5 (HVB -> end at 2) has the first transition: R takes p0 at time 2, before id 6
# enters, so R's zero-weight fit differs from dropping id 5 (p0 taken at time 3).
zero_vs_drop(h, 5, "hand_id5")
# group B with ids 9 and 11 of weight 0: at time 4 state HVB holds only them; R gives NaN.
zero_vs_drop(h[h$group == "B", ], c(9, 11), "hand_b_id9_id11")

# --- synthetic journey, non-integer weights ------------------------------------------------
j <- read.csv(file.path(dir, "multistate_journey.csv"), stringsAsFactors = FALSE,
              na.strings = "NA")
jw <- ids[ids$data == "journey", ]
j$w <- jw$w[match(j$episode_id, jw$id)]
stopifnot(!anyNA(j$w))
journey <- c("investigation", "family_home", "residential", "ended_planned",
             "ended_unplanned", "re_referred")
for (origin in c("placement", "referral")) {
  d <- as_ms(j[j$origin == origin, ], journey)
  add(survfit(Surv(tstart, tstop, state) ~ first_setting, data = d, id = episode_id,
              istate = istate, weights = w), paste0("journey_", origin, "_by_setting"))
  add(survfit(Surv(tstart, tstop, state) ~ 1, data = d, id = episode_id,
              istate = istate, weights = w), paste0("journey_", origin))
}

out(do.call(rbind, tabs), "multistate_weights_pstate.csv")
out(do.call(rbind, p0s), "multistate_weights_p0.csv")
writeLines(sprintf('{"R": "%s", "survival": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survival")), R.version$platform),
           file.path(dir, "multistate_weights_versions.json"))
