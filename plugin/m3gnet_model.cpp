/* ----------------------------------------------------------------------
   m3gnet-lammps: TorchScript M3GNet model wrapper (see m3gnet_model.h)
------------------------------------------------------------------------- */

#include "m3gnet_model.h"

#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

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

std::string torch_description()
{
  std::ostringstream out;
  out << "libtorch " << TORCH_VERSION << ", " << (torch::cuda::is_available() ? torch::cuda::device_count() : 0)
      << " CUDA device(s)";
  return out.str();
}

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
  meta.calc_repuls = to_string(reader.scalars, "calc_repuls") == "true";
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
  for (auto p : module.parameters()) p.requires_grad_(false);    // only dE/d(edge_vec) is needed
  impl_->module = module;
}

struct Model::HaloState {
  int64_t n_nodes = 0, n_local = 0, dim = 0;
  torch::Tensor species, edge_index, edge_vec, dist, rbf, triple_ij, triple_ik, basis;
  torch::Tensor edge0;                              // edge embedding (graph to edge_vec)
  std::vector<torch::Tensor> x_in, e_in, e_out, sums;  // per block
  torch::Tensor readout_energy;
};

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

namespace m3gnet {

namespace {
torch::Tensor rows_to_tensor(const std::vector<double> &buf, int64_t n, int64_t dim, torch::Device dev,
                             torch::Dtype dtype)
{
  return torch::from_blob(const_cast<double *>(buf.data()), {n, dim}, torch::kFloat64).to(dev, dtype, false, true);
}

void tensor_to_rows(const torch::Tensor &t, std::vector<double> &buf)
{
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  buf.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}
}    // namespace

void Model::halo_begin(const GraphInput &in, int n_local, std::vector<double> &node_feat)
{
  halo_ = std::make_unique<HaloState>();
  auto &h = *halo_;
  const auto dev = impl_->device;
  h.n_nodes = static_cast<int64_t>(in.species.size());
  h.n_local = n_local;
  h.dim = meta_.node_feature_dim;
  const int64_t n_edges = static_cast<int64_t>(in.edge_vec.size() / 3);
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  h.species = torch::from_blob(const_cast<int64_t *>(in.species.data()), {h.n_nodes}, i64).to(dev, false, true);
  h.edge_index =
      torch::from_blob(const_cast<int64_t *>(in.edge_index.data()), {2, n_edges}, i64).to(dev, false, true);
  h.edge_vec = torch::from_blob(const_cast<double *>(in.edge_vec.data()), {n_edges, 3}, torch::kFloat64)
                   .to(dev, impl_->dtype, false, true)
                   .requires_grad_(true);
  auto &m = impl_->module;
  h.dist = torch::linalg_vector_norm(h.edge_vec, 2, {1}, false, c10::nullopt);
  h.rbf = m.get_method("radial")({h.dist}).toTensor();
  auto tr = m.get_method("triples")({h.edge_index, h.dist, h.n_nodes}).toTuple();
  h.triple_ij = tr->elements()[0].toTensor();
  h.triple_ik = tr->elements()[1].toTensor();
  h.basis = m.get_method("triple_basis")({h.edge_vec, h.dist, h.triple_ij, h.triple_ik}).toTensor();
  auto emb = m.get_method("embed")({h.species, h.rbf}).toTuple();
  h.edge0 = emb->elements()[1].toTensor();
  h.e_in.assign(meta_.nblocks, torch::Tensor());
  h.x_in.assign(meta_.nblocks, torch::Tensor());
  h.e_out.assign(meta_.nblocks, torch::Tensor());
  h.sums.assign(meta_.nblocks, torch::Tensor());
  h.e_in[0] = h.edge0.detach().requires_grad_(true);
  tensor_to_rows(emb->elements()[0].toTensor(), node_feat);
}

void Model::halo_block(int b, const std::vector<double> &node_feat, std::vector<double> &node_sums)
{
  auto &h = *halo_;
  h.x_in[b] = rows_to_tensor(node_feat, h.n_nodes, h.dim, impl_->device, impl_->dtype).requires_grad_(true);
  auto res = impl_->module.get_method("block_messages")({static_cast<int64_t>(b), h.x_in[b], h.e_in[b], h.rbf,
                                                        h.edge_index, h.triple_ij, h.triple_ik, h.basis})
                 .toTuple();
  h.e_out[b] = res->elements()[0].toTensor();
  h.sums[b] = res->elements()[1].toTensor();
  if (b + 1 < meta_.nblocks) h.e_in[b + 1] = h.e_out[b].detach().requires_grad_(true);
  tensor_to_rows(h.sums[b], node_sums);
}

void Model::halo_readout(const std::vector<double> &node_feat, GraphOutput &out, std::vector<double> &grad_feat)
{
  auto &h = *halo_;
  auto &m = impl_->module;
  auto x = rows_to_tensor(node_feat, h.n_nodes, h.dim, impl_->device, impl_->dtype).requires_grad_(true);
  auto local = x.narrow(0, 0, h.n_local);
  auto energy = m.get_method("readout")({local, h.species.narrow(0, 0, h.n_local)}).toTensor();
  if (meta_.calc_repuls) {
    auto zbl = m.get_method("zbl")({h.species, h.edge_index, h.dist}).toTensor();
    energy = energy + zbl.narrow(0, 0, h.n_local);
  }
  auto total = energy.sum();
  auto g = torch::autograd::grad({total}, {x, h.edge_vec}, {}, true, false, true);
  if (g[1].defined()) h.edge_vec.mutable_grad() = g[1].detach();
  tensor_to_rows(g[0].defined() ? g[0] : torch::zeros_like(x), grad_feat);
  auto e_cpu = energy.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  out.node_energy.assign(e_cpu.data_ptr<double>(), e_cpu.data_ptr<double>() + h.n_local);
  out.energy = total.detach().to(torch::kCPU, torch::kFloat64).item<double>();
}

void Model::halo_block_backward(int b, const std::vector<double> &grad_sums, std::vector<double> &grad_feat)
{
  auto &h = *halo_;
  auto gs = rows_to_tensor(grad_sums, h.n_nodes, h.dim, impl_->device, impl_->dtype);
  std::vector<torch::Tensor> outputs{h.sums[b]};
  std::vector<torch::Tensor> grads{gs};
  if (b + 1 < meta_.nblocks && h.e_in[b + 1].grad().defined()) {
    outputs.push_back(h.e_out[b]);
    grads.push_back(h.e_in[b + 1].grad());
  }
  std::vector<torch::Tensor> inputs{h.x_in[b], h.e_in[b], h.edge_vec};
  auto g = torch::autograd::grad(outputs, inputs, grads, true, false, true);
  if (g[1].defined()) h.e_in[b].mutable_grad() = g[1].detach();
  if (g[2].defined()) {
    if (h.edge_vec.grad().defined())
      h.edge_vec.mutable_grad() = h.edge_vec.grad() + g[2].detach();
    else
      h.edge_vec.mutable_grad() = g[2].detach();
  }
  tensor_to_rows(g[0].defined() ? g[0] : torch::zeros_like(h.x_in[b]), grad_feat);
}

void Model::halo_end(GraphOutput &out)
{
  auto &h = *halo_;
  torch::Tensor grad = h.edge_vec.grad().defined() ? h.edge_vec.grad() : torch::zeros_like(h.edge_vec);
  if (h.e_in[0].grad().defined()) {
    auto g = torch::autograd::grad({h.edge0}, {h.edge_vec}, {h.e_in[0].grad()}, false, false, true);
    if (g[0].defined()) grad = grad + g[0];
  }
  auto g_cpu = grad.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  out.edge_grad.assign(g_cpu.data_ptr<double>(), g_cpu.data_ptr<double>() + g_cpu.numel());
  halo_.reset();
}

}    // namespace m3gnet
