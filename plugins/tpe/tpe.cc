// tpe.cc — registers the `tpe` strategy (plugins/tpe/tpe_strategy.h).
#include "bbo/plugin.h"
#include "plugins/tpe/tpe_strategy.h"

BBO_PLUGIN(bbo::strategy_entry<bbo::tpe::TpeStrategy>(
    "tpe", {}, "Tree-structured Parzen Estimator (Optuna 3.1 TPESampler: multivariate, grouped, constant liar, MOTPE)",
    bbo::tpe::tpe_param_specs()))
