# Reference values for the stratified Gray's test in tests/models/test_gray_strata.py.
# Run from the repository root:  Rscript tests/reference/gray_strata_reference.R
# Input : tests/reference/gray_strata_data.csv, written by
#         `.venv/bin/python -m tests.models.test_gray_strata` (seeded synthetic episodes: time in
#         whole days with ties, status 0 ongoing / 1 planned / 2 unplanned ending, groups
#         `institution` (2) and `placement` (3), strata `age_band` (2), `municipality` (3)
#         and `sparse` (4; its stratum m4 holds only the placement group "other")).
# Output: tests/reference/gray_strata_tests.csv and gray_strata_versions.json
library(cmprsk)

dir <- "tests/reference"
d <- read.csv(file.path(dir, "gray_strata_data.csv"), stringsAsFactors = FALSE)

# --- Gray's test: cuminc(time, status, group, strata = strata, rho = rho)$Tests ------------
# strata "none": the unstratified test (cuminc without strata), for contrast.
rows <- list()
for (group in c("institution", "placement")) {
  for (strata in c("none", "age_band", "municipality", "sparse")) {
    for (rho in c(0, 1)) {
      tests <- if (strata == "none") {
        cuminc(d$time, d$status, d[[group]], rho = rho, cencode = 0)$Tests
      } else {
        cuminc(d$time, d$status, d[[group]], strata = d[[strata]], rho = rho, cencode = 0)$Tests
      }
      rows[[length(rows) + 1]] <- data.frame(group = group, strata = strata, rho = rho,
                                             cause = as.numeric(rownames(tests)),
                                             statistic = tests[, "stat"],
                                             p_value = tests[, "pv"], df = tests[, "df"])
    }
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "gray_strata_tests.csv"), row.names = FALSE)

# --- versions ---------------------------------------------------------------------------
writeLines(sprintf('{"R": "%s", "cmprsk": "%s", "platform": "%s"}',
                   paste(R.version$major, R.version$minor, sep = "."),
                   as.character(packageVersion("cmprsk")), R.version$platform),
           file.path(dir, "gray_strata_versions.json"))
