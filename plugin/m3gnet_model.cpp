/* ----------------------------------------------------------------------
   m3gnet-lammps: TorchScript M3GNet model wrapper (see m3gnet_model.h)
------------------------------------------------------------------------- */

#include "m3gnet_model.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <cctype>
#include <map>
#include <sstream>
#include <stdexcept>

namespace m3gnet {

namespace {

// Minimal reader for the exporter's flat JSON object; values: string, number, bool, null, [strings].
class JsonReader {
 public:
  explicit JsonReader(const std::string &s) : s_(s) {}

  std::map<std::string, std::string> scalars;
  std::map<std::string, std::vector<std::string>> arrays;

  void parse()
  {
    expect('{');
    skip_ws();
    if (peek() == '}') return;
    while (true) {
      std::string key = read_string();
      expect(':');
      skip_ws();
      if (peek() == '[') {
        arrays[key] = read_array();
      } else {
        scalars[key] = read_scalar();
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      return;
    }
  }

 private:
  const std::string &s_;
  size_t pos_ = 0;

  void skip_ws()
  {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  char peek()
  {
    if (pos_ >= s_.size()) throw std::runtime_error("metadata JSON ends early");
    return s_[pos_];
  }
  void expect(char c)
  {
    skip_ws();
    if (peek() != c) throw std::runtime_error(std::string("metadata JSON: expected '") + c + "'");
    ++pos_;
  }
  std::string read_string()
  {
    expect('"');
    std::string out;
    while (peek() != '"') {
      if (s_[pos_] == '\\') ++pos_;
      out += s_[pos_++];
    }
    ++pos_;
    return out;
  }
  std::string read_scalar()
  {
    skip_ws();
    if (peek() == '"') return read_string();
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != '}' && !std::isspace((unsigned char) s_[pos_]))
      ++pos_;
    return s_.substr(start, pos_ - start);
  }
  std::vector<std::string> read_array()
  {
    expect('[');
    std::vector<std::string> out;
    skip_ws();
    if (peek() == ']') {
      ++pos_;
      return out;
    }
    while (true) {
      out.push_back(read_scalar());
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']');
      return out;
    }
  }
};

double to_double(const std::map<std::string, std::string> &m, const std::string &key)
{
  auto it = m.find(key);
  if (it == m.end()) throw std::runtime_error("metadata has no '" + key + "'");
  try {
    return std::stod(it->second);
  } catch (std::exception &) {
    throw std::runtime_error("metadata '" + key + "' is not a number: " + it->second);
  }
}

std::string to_string(const std::map<std::string, std::string> &m, const std::string &key)
{
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

}    // namespace

ModelMetadata parse_metadata(const std::string &json)
{
  JsonReader reader(json);
  reader.parse();
  ModelMetadata meta;
  meta.format = to_string(reader.scalars, "format");
  if (meta.format != FORMAT_NAME)
    throw std::runtime_error("not written by `python -m pydriver export` (format '" + meta.format + "')");
  meta.format_version = static_cast<int>(to_double(reader.scalars, "format_version"));
  if (meta.format_version != FORMAT_VERSION)
    throw std::runtime_error("model file format_version " + std::to_string(meta.format_version) +
                             " but this plugin reads version " + std::to_string(FORMAT_VERSION) +
                             ": re-export the model with the matching pydriver");
  meta.model_name = to_string(reader.scalars, "model_name");
  meta.elements = reader.arrays["elements"];
  if (meta.elements.empty()) throw std::runtime_error("metadata lists no elements");
  meta.cutoff = to_double(reader.scalars, "cutoff_A");
  meta.threebody_cutoff = to_double(reader.scalars, "threebody_cutoff_A");
  meta.nblocks = static_cast<int>(to_double(reader.scalars, "nblocks"));
  meta.node_feature_dim = static_cast<int>(to_double(reader.scalars, "node_feature_dim"));
  meta.dtype = to_string(reader.scalars, "dtype");
  if (meta.dtype != "float32" && meta.dtype != "float64")
    throw std::runtime_error("metadata dtype '" + meta.dtype + "' is not float32 or float64");
  meta.device = to_string(reader.scalars, "device");
  meta.data_mean = to_double(reader.scalars, "data_mean_eV");
  meta.source_sha256 = to_string(reader.scalars, "source_sha256");
  return meta;
}

struct Model::Impl {
  torch::jit::Module module;
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat64;
};

Model::Model(const std::string &path, const std::string &device_request) : impl_(new Impl)
{
  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU, extra);
  } catch (const c10::Error &e) {
    std::string msg = e.what_without_backtrace();
    throw std::runtime_error("cannot load TorchScript file " + path + ": " + msg.substr(0, msg.find('\n')));
  }
  if (extra["metadata.json"].empty())
    throw std::runtime_error(path + " has no metadata.json: not written by `python -m pydriver export`");
  meta_ = parse_metadata(extra["metadata.json"]);

  std::string dev = device_request.empty() ? meta_.device : device_request;
  if (dev.empty()) dev = "cpu";
  if (dev == "cuda") {
    if (!torch::cuda::is_available())
      throw std::runtime_error("device cuda requested but this libtorch sees no CUDA device");
    impl_->device = torch::Device(torch::kCUDA, 0);
  } else if (dev.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      throw std::runtime_error("device " + dev + " requested but this libtorch sees no CUDA device");
    impl_->device = torch::Device(dev);
  } else if (dev == "cpu") {
    impl_->device = torch::kCPU;
  } else {
    throw std::runtime_error("unknown device '" + dev + "' (use cpu, cuda or cuda:N)");
  }
  device_name_ = impl_->device.str();
  impl_->dtype = meta_.dtype == "float32" ? torch::kFloat32 : torch::kFloat64;
  module.to(impl_->device);
  module.eval();
  impl_->module = module;
}

Model::~Model() = default;

void Model::compute(const GraphInput &in, GraphOutput &out, int n_energy_nodes)
{
  const int64_t n_nodes = static_cast<int64_t>(in.species.size());
  const int64_t n_edges = static_cast<int64_t>(in.edge_vec.size() / 3);
  const auto dev = impl_->device;
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

  // from_blob does not copy: clone (CPU) or .to(device) copies before the inputs go out of scope
  auto species = torch::from_blob(const_cast<int64_t *>(in.species.data()), {n_nodes}, i64).to(dev, false, true);
  auto edge_index =
      torch::from_blob(const_cast<int64_t *>(in.edge_index.data()), {2, n_edges}, i64).to(dev, false, true);
  auto edge_vec = torch::from_blob(const_cast<double *>(in.edge_vec.data()), {n_edges, 3}, f64)
                      .to(dev, impl_->dtype, false, true)
                      .requires_grad_(true);

  auto energies = impl_->module.forward({species, edge_index, edge_vec}).toTensor();
  auto counted = (n_energy_nodes >= 0 && n_energy_nodes < n_nodes) ? energies.narrow(0, 0, n_energy_nodes)
                                                                     : energies;
  auto total = counted.sum();
  auto grads = torch::autograd::grad({total}, {edge_vec}, {}, false, false, true);

  auto e_cpu = energies.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  out.node_energy.assign(e_cpu.data_ptr<double>(), e_cpu.data_ptr<double>() + n_nodes);
  out.energy = total.detach().to(torch::kCPU, torch::kFloat64).item<double>();
  out.edge_grad.assign(3 * n_edges, 0.0);
  if (grads[0].defined() && n_edges > 0) {
    auto g_cpu = grads[0].to(torch::kCPU, torch::kFloat64).contiguous();
    std::copy(g_cpu.data_ptr<double>(), g_cpu.data_ptr<double>() + 3 * n_edges, out.edge_grad.begin());
  }
}

}    // namespace m3gnet
