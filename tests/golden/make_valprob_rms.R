# Golden values of rms::val.prob (Harrell's rms, the R reference for validating predicted
# probabilities) for tests/evaluation/test_valprob_golden.py.
#
# Independent source: R 4.2 with Debian's r-cran-rms (apt-get install r-base-core r-cran-rms).
# Regenerate from the repository root:
#   Rscript tests/golden/make_valprob_rms.R
# Input: tests/golden/valprob_input.csv (y, p: 300 patients from a model whose true
# calibration slope is 1/0.8, written once by a seeded numpy script; see the test).
# val.prob's smoother for Eavg/E90/Emax is lowess(p, y, iter = 0) with R's default span
# f = 2/3 and delta = 0.01 * range(p); its Intercept and Slope are the joint logistic
# recalibration fit logit P(y) = a + b logit(p).
suppressMessages(library(rms))
d <- read.csv("tests/golden/valprob_input.csv")
v <- val.prob(d$p, d$y, pl = FALSE)
# val.prob's "C (ROC)" comes from lrm's binned predictions (an approximation); the exact
# Mann-Whitney C index is Hmisc::somers2's
s <- Hmisc::somers2(d$p, d$y)
v <- c(v, "somers2 C" = unname(s["C"]), "somers2 Dxy" = unname(s["Dxy"]))
out <- data.frame(metric = names(v), value = sprintf("%.15g", unname(v)))
write.csv(out, "tests/golden/valprob_rms.csv", row.names = FALSE, quote = FALSE)
cat(sprintf("rms %s, R %s\n", packageVersion("rms"), getRversion()))
