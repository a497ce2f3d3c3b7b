// The `pfn` surrogate plugin: a prior-data fitted network (surrogates/pfn/pfn_core.h has the model; this
// file maps plugin parameters onto it).
#include <cstdint>
#include <string>

#include "bbo/device.h"
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
  const std::string device = p.get_string("device");
  try {
    o.device = bbo::Device::parse(device);
  } catch (const bbo::ConfigError&) {
    throw bbo::ConfigError("plugin 'pfn': parameter 'device' must be cpu, cuda, cuda:N or auto, got '" + device + "'");
  }
  const int64_t min_rows = p.get_int("auto_min_rows");
  if (min_rows < 1)
    throw bbo::ConfigError("plugin 'pfn': parameter 'auto_min_rows' must be >= 1, got " + std::to_string(min_rows));
  o.auto_min_rows = static_cast<size_t>(min_rows);
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
      "quantile range, squared: the Gaussian LogEI sees the body of the distribution, not its wide tails)"},
     {"device", "string", "cpu",
      "where the network scores queries: cpu, cuda, cuda:N (an NVIDIA GPU; the CPU with a one-line notice when "
      "none is usable) or auto (the GPU for batches of at least auto_min_rows queries)"},
     {"auto_min_rows", "int", 1024,
      "device auto: the number of query rows in one call from which the GPU is used (an estimate awaiting a "
      "GPU benchmark, see pfn_core.h PfnOptions)"}}))
