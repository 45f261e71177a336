# Reference values for tests/measures/test_followup_design_effect.py::test_design_effect_variance_matches_r_survey.
# Run from the repository root:  Rscript tests/reference/measures_cluster_reference.R
# Input: tests/reference/measures_cluster_data.csv, invented data written once by Python with
#   a fixed seed (numpy default_rng(20261130)): 137 follow-ups of 36 invented children
#   (child_id K00-K35, 1-6 follow-ups each), age_group (six children change age group
#   between follow-ups), heard (0/1, a child-specific probability) and rating (1-5, a
#   child-specific mean). No real persons.
# For every variable (heard, rating) and every group (overall, each age_group), with the
# group's rows taken as their own sample (one design per group, as the measures do):
#   survey::svymean(~y, svydesign(ids = ~child_id, data = d_group), deff = "replace")
# and the textbook ratio-estimator (linearisation) variance written out in base R:
#   var = C / (C - 1) * sum_c (y_c - r m_c)^2 / n^2   (y_c, m_c cluster totals, C clusters).
# The script stops unless both variances agree (all.equal, tolerance 1e-12).
# Output:
#   tests/reference/measures_cluster_variance.csv
#     (variable, group ("" = overall), n, n_clusters, estimate, variance (svymean SE^2),
#      variance_textbook, deff_survey (svymean's design effect against simple random sampling
#      with replacement, i.e. against svyvar(~y) / n, the sample variance with n - 1))
#   tests/reference/measures_cluster_versions.json
suppressMessages(library(survey))

dir <- "tests/reference"
d <- read.csv(file.path(dir, "measures_cluster_data.csv"), colClasses = c(child_id = "character",
                                                                          age_group = "character"))

textbook <- function(y, cluster) {
  n <- length(y)
  r <- sum(y) / n
  yc <- tapply(y, cluster, sum)
  mc <- tapply(y, cluster, length)
  nc <- length(yc)
  nc / (nc - 1) * sum((yc - r * mc)^2) / n^2
}

one <- function(sub, variable, group) {
  des <- suppressWarnings(svydesign(ids = ~child_id, data = sub))
  est <- svymean(as.formula(paste0("~", variable)), des, deff = "replace")
  v_survey <- as.numeric(SE(est))^2
  v_text <- textbook(sub[[variable]], sub$child_id)
  stopifnot(isTRUE(all.equal(v_survey, v_text, tolerance = 1e-12)))
  data.frame(variable = variable, group = group, n = nrow(sub),
             n_clusters = length(unique(sub$child_id)), estimate = as.numeric(coef(est)),
             variance = v_survey, variance_textbook = v_text,
             deff_survey = as.numeric(deff(est)))
}

out <- list()
for (variable in c("heard", "rating")) {
  out[[length(out) + 1]] <- one(d, variable, "")
  for (g in sort(unique(d$age_group))) {
    out[[length(out) + 1]] <- one(d[d$age_group == g, ], variable, g)
  }
}
out <- do.call(rbind, out)
num <- vapply(out, is.numeric, logical(1))
out_txt <- out
out_txt[num] <- lapply(out[num], function(x) sprintf("%.17g", x))
write.csv(out_txt, file.path(dir, "measures_cluster_variance.csv"), row.names = FALSE)
writeLines(sprintf('{"R": "%s", "survey": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("survey")), R.version$platform),
           file.path(dir, "measures_cluster_versions.json"))
print(out, digits = 10)
