// bo.cc — the `bo` strategy plugin and its presets (`gp`, `cqr`, `bnn`): one class, different parameter defaults.
#include "plugins/bo/bo_strategy.h"

BBO_PLUGIN(bbo::strategy_entry<bbo::bo::BoStrategy>(
               "bo", {}, "Bayesian optimization: a surrogate plugin + an acquisition function + an acquisition optimizer",
               bbo::bo::bo_param_specs(bbo::json::object())),
           bbo::strategy_entry<bbo::bo::BoStrategy>(
               "gp", {"gp-bo"},
               "Bayesian optimization with the Matern-5/2 ARD Gaussian process (MAP hyper-parameters) and LogEI; "
               "EHVI for 2-3 objectives, probability of feasibility for constraints",
               bbo::bo::bo_param_specs({{"surrogate", "gp"}})),
           bbo::strategy_entry<bbo::bo::BoStrategy>(
               "cqr", {},
               "Conformalized quantile regression (Salinas et al. 2023): boosted quantile trees, conformal "
               "calibration, 2,000 random candidates each scored at one random quantile level",
               bbo::bo::bo_param_specs({{"surrogate", "cqr"},
                                        {"acquisition", "random_quantile"},
                                        {"local_search", false},
                                        {"n_candidates", 2000},
                                        {"candidates", "uniform"}})),
           bbo::strategy_entry<bbo::bo::BoStrategy>(
               "bnn", {"bnn-bo"},
               "Bayesian optimization with a Bayesian neural network surrogate (a deep ensemble of 5 MLPs; "
               "surrogate_params {\"variant\": \"sghmc\"} for SGHMC posterior samples) and LogEI",
               bbo::bo::bo_param_specs({{"surrogate", "bnn"}})))
