"""What a study means: read its result tables, estimate what each component is worth, write the report.

Pure functions over DataFrames; never imports torch or Ray (a test checks), so a report can be rebuilt anywhere.
    schema           the result tables' columns: the one definition, shared with the writer (ablation/export.py)
    load             read + validate results/{trials,epochs}.csv, name the factors (ResultsError for user errors)
    design           cells, terms, +-1 coding, the model design over every completed run
    linear_model     least squares (batched for simulations) and t intervals of linear contrasts
    effects          main effects and interactions (Yates), OLS with seed blocks, Holm, "resolved"
    shapley          exact Shapley attribution of the baseline -> full gain, t intervals
    fractional       regular 2^(k-p) designs: generators, defining relation, alias chains, fold-over
    fractional_tables  minimum-aberration generators (Box, Hunter & Hunter; NIST/SEMATECH)
    observed_design  which design the completed runs form: full grid, regular fraction, or neither
    fraction_effects effects and Shapley of a fraction, under its stated assumption
    aggregate        per-configuration n, mean, std, CI in [0, 100]; learning curves; marginal means
    paired           the named models compared seed by seed (paired t, Clopper-Pearson, Holm)
    power            MDE, residual sd and its upper bound, seeds needed for a smallest effect of interest
    plan             the plan from a pilot: seeds, trials and compute for --min-effect
    sequential       the stopping rule of --until-settled (Bonferroni over looks, Holm within)
    analyse          every statistic of a study, computed once
    plots            figures from finished frames
    render           HTML / Markdown document
    report, report_sections, sequential_report, tuning_report
                     build_report(run_dir, metric, min_effect) and the command line; the sections
    tuning_rule, tuning_tables, compare, fanova
                     the tuning stage (--tune-first), --compare, fANOVA
    wandb_identity, wandb_summary
                     the W&B summary run of a study (wandb imported only there)
"""
