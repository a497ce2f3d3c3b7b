// The `pfn` surrogate plugin: a prior-data fitted network (surrogates/pfn/pfn_core.h has the model; this
// file maps plugin parameters onto it).
#include <string>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "surrogates/pfn/pfn_core.h"

namespace {

bbo::pfn::PfnOptions options_from(const bbo::PluginParams& p) {
  bbo::pfn::PfnOptions o;
  o.weights_path = p.get_string("weights");
  o.gradient = p.get_bool("gradient");
  const std::string m = p.get_string("moments");
  if (m != "exact" && m != "robust")
    throw bbo::ConfigError("plugin 'pfn': parameter 'moments' must be exact or robust, got '" + m + "'");
  o.robust_moments = m == "robust";
  return o;
}

class PfnPlugin final : public bbo::pfn::PfnSurrogate {
 public:
  explicit PfnPlugin(const bbo::PluginParams& p) : PfnSurrogate(options_from(p)) {}
};

}  // namespace

BBO_PLUGIN(bbo::surrogate_entry<PfnPlugin>(
    "pfn", {"prior_fitted_network"},
    "Prior-data fitted network (PFNs4BO): a transformer trained in this repo on GP-prior datasets predicts a bar "
    "distribution of y in one forward pass, the observations in context (no refitting); d <= 8 and n <= 60 "
    "(more: the 8 coordinates most rank-correlated with y, the 30 best + 30 seeded-random observations)",
    {{"weights", "string", "", "a BBOPFN01 weight file to use instead of the built-in one (surrogates/pfn/weights)"},
     {"gradient", "bool", false,
      "offer gradients (central finite differences, 2d + 1 network queries each) so that the acquisition "
      "optimizer uses L-BFGS; off: derivative-free local search (fewer network passes)"},
     {"moments", "string", "exact",
      "predict(): exact (the bar distribution's mean and variance) or robust (median and half the 15.9-84.1% "
      "quantile range, squared: the Gaussian LogEI sees the body of the distribution, not its wide tails)"}}))
