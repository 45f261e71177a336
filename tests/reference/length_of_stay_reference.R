# Reference values for tests/measures/test_episode.py::test_length_of_stay_matches_r_quantile_survfit.
# Run from the repository root:  Rscript tests/reference/length_of_stay_reference.R
# Input: tests/reference/length_of_stay_data.csv, written by Python from synthetic data
#   (evaluation.data.synth.generate(n_children=1500, n_municipalities=5, seed=7), episodes table,
#   columns start_date, end_date (empty while ongoing), placement_type, sex; no identifiers).
# Entry cohort: start_date in 2019-01-01 .. 2021-12-31; data end 2024-12-31. Time is
# end_date - start_date in days for episodes ended by the data end (event), else
# data end - start_date (censored). Kaplan-Meier with log-log pointwise limits, quantiles
# with confidence limits by quantile.survfit(conf.int = TRUE), overall and by placement_type.
# Output:
#   tests/reference/length_of_stay_quantiles.csv
#     (group, quantile, estimate, ci_lower, ci_upper, n, n_event; group "" = overall)
#   tests/reference/length_of_stay_versions.json
library(survival)

dir <- "tests/reference"
d <- read.csv(file.path(dir, "length_of_stay_data.csv"), colClasses = "character")
start <- as.Date(d$start_date)
end <- as.Date(ifelse(d$end_date == "", NA, d$end_date))
data_end <- as.Date("2024-12-31")
keep <- start >= as.Date("2019-01-01") & start <= as.Date("2021-12-31")
d <- d[keep, ]
start <- start[keep]
end <- end[keep]
ended <- !is.na(end) & end <= data_end
stop_day <- ifelse(ended, as.numeric(end), as.numeric(data_end))
d$time <- stop_day - as.numeric(start)
d$event <- as.integer(ended)
probs <- c(0.25, 0.5, 0.75)

rows <- list()
fit <- survfit(Surv(time, event) ~ 1, data = d, conf.type = "log-log")
q <- quantile(fit, probs = probs, conf.int = TRUE)
rows[[1]] <- data.frame(group = "", quantile = probs, estimate = as.numeric(q$quantile),
                        ci_lower = as.numeric(q$lower), ci_upper = as.numeric(q$upper),
                        n = nrow(d), n_event = sum(d$event))
fit_g <- survfit(Surv(time, event) ~ placement_type, data = d, conf.type = "log-log")
qg <- quantile(fit_g, probs = probs, conf.int = TRUE)
for (lab in rownames(qg$quantile)) {
  g <- sub("^placement_type=", "", lab)
  sub_d <- d[d$placement_type == g, ]
  rows[[length(rows) + 1]] <- data.frame(
    group = g, quantile = probs, estimate = as.numeric(qg$quantile[lab, ]),
    ci_lower = as.numeric(qg$lower[lab, ]), ci_upper = as.numeric(qg$upper[lab, ]),
    n = nrow(sub_d), n_event = sum(sub_d$event))
}
out <- do.call(rbind, rows)
write.csv(out, file.path(dir, "length_of_stay_quantiles.csv"), row.names = FALSE, na = "")

versions <- sprintf('{"R": "%s", "survival": "%s", "platform": "%s"}',
                    paste(R.version$major, R.version$minor, sep = "."),
                    as.character(packageVersion("survival")), R.version$platform)
writeLines(versions, file.path(dir, "length_of_stay_versions.json"))
