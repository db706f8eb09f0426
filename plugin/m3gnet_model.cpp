/* ----------------------------------------------------------------------
   m3gnet-lammps: TorchScript M3GNet model wrapper (see m3gnet_model.h)
------------------------------------------------------------------------- */

#include "m3gnet_model.h"
#include "sha256.h"

#include <ATen/Version.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "nlohmann/json.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace m3gnet {

// LAMMPS ships nlohmann/json with its namespace renamed to nlohmann_lmp (see its json.h)
using json = ::nlohmann_lmp::basic_json<>;

namespace {

const std::string EXPORT_HINT = "`python -m pydriver export <checkpoint folder> <file>`";

// the three tensors of one evaluation on the model's device; edge_vec requires grad
struct InputTensors {
  torch::Tensor species, edge_index, edge_vec;
};

InputTensors input_tensors(const GraphInput &in, torch::Device dev, torch::Dtype dtype)
{
  const int64_t n_nodes = static_cast<int64_t>(in.species.size());
  const int64_t n_edges = static_cast<int64_t>(in.edge_vec.size() / 3);
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  // from_blob does not copy: the non-blocking=false, copy=true .to() copies before `in` can change
  InputTensors t;
  t.species = torch::from_blob(const_cast<int64_t *>(in.species.data()), {n_nodes}, i64).to(dev, false, true);
  t.edge_index =
      torch::from_blob(const_cast<int64_t *>(in.edge_index.data()), {2, n_edges}, i64).to(dev, false, true);
  t.edge_vec = torch::from_blob(const_cast<double *>(in.edge_vec.data()), {n_edges, 3}, torch::kFloat64)
                   .to(dev, dtype, false, true)
                   .requires_grad_(true);
  return t;
}

// copy a tensor (any device and dtype) into a CPU double vector
void tensor_to_vector(const torch::Tensor &t, std::vector<double> &buf)
{
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  buf.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}    // namespace

void set_num_threads(int n)
{
  if (n > 0 && at::get_num_threads() != n) at::set_num_threads(n);
}

std::string torch_description()
{
  std::ostringstream out;
  out << "libtorch " << TORCH_VERSION << ", " << (torch::cuda::is_available() ? torch::cuda::device_count() : 0)
      << " CUDA device(s)";
  return out.str();
}

bool capability_fits(const std::string &recorded, const std::string &here)
{
  int r = -1, h = -1, k = 0;
  for (const char *name : CPU_CAPABILITY_ORDER) {
    if (recorded == name) r = k;
    if (here == name) h = k;
    k++;
  }
  if (r >= 0 && h >= 0) return r <= h;
  return recorded == here || recorded == "DEFAULT";
}

ModelMetadata parse_metadata(const std::string &text)
{
  json j;
  try {
    j = json::parse(text);
  } catch (json::exception &e) {
    throw std::runtime_error(std::string("metadata.json is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw std::runtime_error("metadata.json is not a JSON object");
  ModelMetadata meta;
  meta.format = j.value("format", std::string());
  if (meta.format != FORMAT_NAME)
    throw std::runtime_error("not written by `python -m pydriver export` (format '" + meta.format + "')");
  meta.format_version = j.value("format_version", -1);
  if (meta.format_version != FORMAT_VERSION)
    throw std::runtime_error("model file format_version " + std::to_string(meta.format_version) +
                             " but this plugin reads version " + std::to_string(FORMAT_VERSION) +
                             ": re-export it with " + EXPORT_HINT);
  try {
    meta.model_name = j.value("model_name", std::string());
    meta.elements = j.at("elements").get<std::vector<std::string>>();
    meta.cutoff_A = j.at("cutoff_A").get<double>();
    meta.threebody_cutoff_A = j.at("threebody_cutoff_A").get<double>();
    meta.nblocks = j.at("nblocks").get<int>();
    meta.node_feature_dim = j.at("node_feature_dim").get<int>();
    meta.dtype = j.at("dtype").get<std::string>();
    meta.device = j.value("device", std::string("cpu"));
    meta.data_mean_eV = j.at("data_mean_eV").get<double>();
    meta.source_sha256 = j.value("source_sha256", std::string());
    meta.calc_repuls = j.value("calc_repuls", false);
    meta.threebody = j.value("threebody", std::string("triples"));
    if (j.contains("compiled"))
      for (auto &[dev, entry] : j.at("compiled").items()) {
        CompiledPackage pkg;
        pkg.file = entry.at("file").get<std::string>();
        pkg.torch = entry.at("torch").get<std::string>();
        pkg.threads = entry.value("threads", 1);
        pkg.cpu_capability = entry.value("cpu_capability", std::string());
        if (entry.contains("halo")) {
          const auto &halo = entry.at("halo");
          pkg.halo_block = halo.at("block").get<std::string>();
          pkg.halo_block_grad = halo.at("block_grad").get<std::string>();
          pkg.halo_weights = halo.at("weights").get<std::vector<std::string>>();
        }
        meta.compiled[dev] = pkg;
      }
    if (j.contains(CHECKSUM_KEY))
      meta.entry_sha256 = j.at(CHECKSUM_KEY).get<std::map<std::string, std::string>>();
  } catch (json::exception &e) {
    throw std::runtime_error(std::string("metadata.json: ") + e.what());
  }
  if (meta.elements.empty()) throw std::runtime_error("metadata lists no elements");
  if (meta.dtype != "float32" && meta.dtype != "float64")
    throw std::runtime_error("metadata dtype '" + meta.dtype + "' is not float32 or float64");
  return meta;
}

struct Model::Impl {
  torch::jit::Module module;
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat64;
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> aoti;    // compiled energy + gradient, if used
  // comm halo: one interaction block forward and backward, if used, and each block's weight inputs
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> block, block_grad;
  std::vector<std::vector<torch::Tensor>> block_weights;
};

namespace {

// the loader takes a path: write the package bytes to a private temporary file, load, remove it
std::unique_ptr<torch::inductor::AOTIModelPackageLoader> load_package(const std::string &bytes)
{
  const char *tmpdir = std::getenv("TMPDIR");
  std::string name = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/m3gnet-XXXXXX.pt2";
  std::vector<char> buf(name.begin(), name.end());
  buf.push_back('\0');
  const int fd = mkstemps(buf.data(), 4);
  if (fd < 0) throw std::runtime_error("cannot create a temporary file for the compiled package in " + name);
  close(fd);
  const std::string path(buf.data());
  {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::remove(path.c_str());
      throw std::runtime_error("cannot write the compiled package to " + path);
    }
  }
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader;
  try {
    loader = std::make_unique<torch::inductor::AOTIModelPackageLoader>(path);
  } catch (const std::exception &e) {
    std::remove(path.c_str());
    std::string msg = e.what();
    throw std::runtime_error("cannot load the compiled package: " + msg.substr(0, msg.find('\n')));
  }
  std::remove(path.c_str());
  return loader;
}

}    // namespace

bool Model::uses_compiled() const { return static_cast<bool>(impl_->aoti); }

bool Model::uses_compiled_halo() const { return static_cast<bool>(impl_->block); }

namespace {

using caffe2::serialize::PyTorchStreamReader;

bool is_checkpoint_folder(const std::string &path)
{
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return false;
  for (const char *name : CHECKPOINT_MARKERS)
    if (!std::filesystem::is_regular_file(std::filesystem::path(path) / name, ec)) return false;
  return true;
}

std::string first_line(const c10::Error &e)
{
  std::string msg = e.what_without_backtrace();
  return msg.substr(0, msg.find('\n'));
}

std::string record_string(PyTorchStreamReader &reader, const std::string &name)
{
  auto [data, size] = reader.getRecord(name);
  return std::string(static_cast<const char *>(data.get()), size);
}

std::runtime_error damaged(const std::string &path, const std::string &entry, const std::string &why)
{
  return std::runtime_error("model file " + path + ": archive entry " + entry + " is damaged (" + why +
                            "); re-export it with " + EXPORT_HINT + " or copy it again");
}

// every entry (but the metadata and torch's archive id) against the sha256 the exporter recorded
void verify_entries(PyTorchStreamReader &reader, const std::string &path, const ModelMetadata &meta)
{
  if (meta.entry_sha256.empty())
    throw std::runtime_error(path + ": metadata has no " + CHECKSUM_KEY + ": re-export it with " + EXPORT_HINT);
  std::set<std::string> seen;
  for (const auto &name : reader.getAllRecords()) {
    bool unchecked = false;
    for (const char *skip : UNCHECKED_ENTRIES) unchecked = unchecked || name == skip;
    if (unchecked) continue;
    auto it = meta.entry_sha256.find(name);
    if (it == meta.entry_sha256.end())
      throw std::runtime_error("model file " + path + ": archive entry " + name + " was not written by the exporter "
                               "(no recorded sha256); re-export it with " + EXPORT_HINT);
    std::string digest;
    try {
      auto [data, size] = reader.getRecord(name);
      digest = sha256_hex(data.get(), size);
    } catch (const c10::Error &e) {
      throw damaged(path, name, "cannot be read: " + first_line(e));
    }
    if (digest != it->second) throw damaged(path, name, "its sha256 differs from the one recorded at export");
    seen.insert(name);
  }
  for (const auto &entry : meta.entry_sha256)
    if (!seen.count(entry.first)) throw damaged(path, entry.first, "missing from the archive");
}

}    // namespace

Model::Model(const std::string &path, const std::string &device_request, CompiledUse use) : impl_(new Impl)
{
  // the metadata first (format, version, checksums), then the TorchScript module and the package it names
  if (is_checkpoint_folder(path))
    throw std::runtime_error(path + " is a matgl checkpoint folder; export it first with `python -m pydriver export " +
                             path + " model.pt`");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw std::runtime_error(path + " is a folder, not a model file written by " + EXPORT_HINT);
  std::unique_ptr<PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<PyTorchStreamReader>(path);
  } catch (const c10::Error &e) {
    throw std::runtime_error("cannot load TorchScript file " + path + ": " + first_line(e));
  }
  const std::string metadata_entry = std::string(EXTRA_FOLDER) + METADATA_FILE;
  if (!reader->hasRecord(metadata_entry))
    throw std::runtime_error(path + " has no metadata.json: not written by `python -m pydriver export`");
  try {
    meta_ = parse_metadata(record_string(*reader, metadata_entry));
  } catch (const c10::Error &e) {
    throw damaged(path, metadata_entry, "cannot be read: " + first_line(e));
  }
  verify_entries(*reader, path, meta_);
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error &e) {
    throw std::runtime_error("cannot load TorchScript file " + path + ": " + first_line(e));
  }

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

  // compiled energy + gradient (AOTInductor): only a package built for this device by this libtorch, for an
  // instruction set this CPU has
  const std::string dev_type = impl_->device.is_cuda() ? "cuda" : "cpu";
  auto it = meta_.compiled.find(dev_type);
  const std::string here = at::get_cpu_capability();
  std::string reason;
  if (use == CompiledUse::NO) {
    reason = "compiled no";
  } else if (it == meta_.compiled.end()) {
    reason = "the file has no compiled package for " + dev_type + " (exported with --no-compile)";
  } else if (it->second.torch.substr(0, it->second.torch.find('+')) != TORCH_VERSION) {
    reason = "its " + dev_type + " package was built by torch " + it->second.torch + ", this plugin uses libtorch " +
        TORCH_VERSION + " (re-export the file with this torch)";
  } else if (!it->second.cpu_capability.empty() && !capability_fits(it->second.cpu_capability, here)) {
    reason = "its " + dev_type + " package was compiled for " + it->second.cpu_capability + " CPUs, this CPU has " +
        here + " (re-export the file on this machine)";
  } else if (!reader->hasRecord(EXTRA_FOLDER + it->second.file)) {
    reason = "the metadata names " + it->second.file + " but the file does not hold it";
  }
  if (!reason.empty()) {
    if (use == CompiledUse::YES) throw std::runtime_error("compiled yes but " + reason);
    engine_note_ = halo_engine_note_ = "TorchScript: " + reason;
    return;
  }
  const CompiledPackage &pkg = it->second;
  impl_->aoti = load_package(record_string(*reader, EXTRA_FOLDER + pkg.file));
  std::string where;
  if (impl_->device.is_cuda())
    where = ", cuda)";
  else if (pkg.threads == 0)    // pydriver.m3gnet.cpu_loops: loops take the run's OpenMP threads
    where = ": fused loops and matrix products on the run's threads)";
  else
    where = ": fused loops on " + std::to_string(pkg.threads) + " thread" + (pkg.threads == 1 ? "" : "s") +
        ", matrix products on the run's threads)";
  engine_note_ = "compiled energy+gradient (AOTInductor package built by torch " + pkg.torch + where;

  // comm halo: the per-block packages and every block's weights (TorchScript parameters blocks.<b>.<name>)
  if (pkg.halo_block.empty() || pkg.halo_block_grad.empty()) {
    halo_engine_note_ = "TorchScript: the file's " + dev_type + " packages predate comm halo's per-block "
        "packages (re-export it for the compiled engine on several ranks)";
    return;
  }
  for (const auto &name : {pkg.halo_block, pkg.halo_block_grad})
    if (!reader->hasRecord(EXTRA_FOLDER + name))
      throw std::runtime_error("model file " + path + ": the metadata names " + name + " but the file does not "
                               "hold it; re-export it with " + EXPORT_HINT);
  std::map<std::string, torch::Tensor> params;
  for (const auto &p : impl_->module.named_parameters(true)) params[p.name] = p.value;
  impl_->block_weights.assign(meta_.nblocks, {});
  for (int b = 0; b < meta_.nblocks; b++)
    for (const auto &name : pkg.halo_weights) {
      auto found = params.find("blocks." + std::to_string(b) + "." + name);
      if (found == params.end())
        throw std::runtime_error("model file " + path + ": the block packages take weight " + name +
                                 ", which block " + std::to_string(b) + " lacks; re-export it with " + EXPORT_HINT);
      impl_->block_weights[b].push_back(found->second.contiguous());
    }
  impl_->block = load_package(record_string(*reader, EXTRA_FOLDER + pkg.halo_block));
  impl_->block_grad = load_package(record_string(*reader, EXTRA_FOLDER + pkg.halo_block_grad));
  halo_engine_note_ = "compiled per-block packages under comm halo (AOTInductor, built by torch " + pkg.torch + where;
}

struct Model::HaloState {
  int64_t n_nodes = 0, n_local = 0, dim = 0;
  bool compiled = false;                            // this step runs the per-block packages
  torch::Tensor species, edge_index, edge_vec, dist, rbf;
  torch::Tensor vec, short_ids;                     // compiled: edge_vec without autograd, short-bond ids
  torch::IValue threebody;                          // TorchScript: the model's per-step three-body geometry
  torch::Tensor edge0;                              // edge embedding (graph to edge_vec)
  std::vector<torch::Tensor> x_in, e_in, e_out, sums;  // per block
  std::vector<std::vector<torch::Tensor>> saved;    // compiled, per block: activations its backward reads
  std::vector<torch::Tensor> grad_e;                // per block: dE/d(edge features entering it)
  torch::Tensor grad_vec;                           // dE/d(edge_vec) collected from the readout and blocks
};

Model::~Model() = default;

void Model::compute(const GraphInput &in, GraphOutput &out, int n_energy_nodes)
{
  const int64_t n_nodes = static_cast<int64_t>(in.species.size());
  const int64_t n_edges = static_cast<int64_t>(in.edge_vec.size() / 3);
  auto t = input_tensors(in, impl_->device, impl_->dtype);
  if (uses_compiled() && n_nodes >= 2 && n_edges >= 2) {
    // the package's inputs: see pydriver/m3gnet/compiled.py; sizes below 2 take the TorchScript path
    auto vec = t.edge_vec.detach();
    auto dist = torch::linalg_vector_norm(vec, 2, {1}, false, c10::nullopt);
    auto short_ids = impl_->module.get_method("short_bonds")({dist}).toTensor();
    if (short_ids.size(0) >= 2) {
      auto weight = torch::zeros({n_nodes}, vec.options());
      const int64_t n_counted = (n_energy_nodes >= 0 && n_energy_nodes < n_nodes) ? n_energy_nodes : n_nodes;
      weight.narrow(0, 0, n_counted).fill_(1.0);
      auto res = impl_->aoti->run({t.species, t.edge_index, vec, short_ids, weight});
      tensor_to_vector(res[0], out.node_energy);
      out.energy = res[0].narrow(0, 0, n_counted).sum().to(torch::kCPU, torch::kFloat64).item<double>();
      tensor_to_vector(res[1], out.edge_grad);
      return;
    }
  }
  auto energies = impl_->module.forward({t.species, t.edge_index, t.edge_vec}).toTensor();
  auto counted = (n_energy_nodes >= 0 && n_energy_nodes < n_nodes) ? energies.narrow(0, 0, n_energy_nodes)
                                                                     : energies;
  auto total = counted.sum();
  auto grads = torch::autograd::grad({total}, {t.edge_vec}, {}, false, false, true);

  tensor_to_vector(energies, out.node_energy);
  out.energy = total.detach().to(torch::kCPU, torch::kFloat64).item<double>();
  if (grads[0].defined() && n_edges > 0)
    tensor_to_vector(grads[0], out.edge_grad);
  else
    out.edge_grad.assign(3 * n_edges, 0.0);
}

namespace {
torch::Tensor rows_to_tensor(const std::vector<double> &buf, int64_t n, int64_t dim, torch::Device dev,
                             torch::Dtype dtype)
{
  return torch::from_blob(const_cast<double *>(buf.data()), {n, dim}, torch::kFloat64).to(dev, dtype, false, true);
}
}    // namespace

namespace {
void add_to(torch::Tensor &sum, const torch::Tensor &g)
{
  if (!g.defined()) return;
  sum = sum.defined() ? sum + g.detach() : g.detach();
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
  auto t = input_tensors(in, dev, impl_->dtype);
  h.species = t.species;
  h.edge_index = t.edge_index;
  h.edge_vec = t.edge_vec;
  auto &m = impl_->module;
  h.dist = torch::linalg_vector_norm(h.edge_vec, 2, {1}, false, c10::nullopt);
  h.rbf = m.get_method("radial")({h.dist}).toTensor();
  // the per-block packages take graphs of >= 2 nodes, bonds and short bonds (pydriver/m3gnet/compiled.py)
  if (uses_compiled_halo() && h.n_nodes >= 2 && h.edge_vec.size(0) >= 2) {
    h.vec = h.edge_vec.detach();
    h.short_ids = m.get_method("short_bonds")({h.dist.detach()}).toTensor();
    h.compiled = h.short_ids.size(0) >= 2;
  }
  if (!h.compiled) h.threebody = m.get_method("threebody")({h.edge_index, h.edge_vec, h.dist, h.n_nodes});
  auto emb = m.get_method("embed")({h.species, h.rbf}).toTuple();
  h.edge0 = emb->elements()[1].toTensor();
  h.e_in.assign(meta_.nblocks, torch::Tensor());
  h.x_in.assign(meta_.nblocks, torch::Tensor());
  h.e_out.assign(meta_.nblocks, torch::Tensor());
  h.sums.assign(meta_.nblocks, torch::Tensor());
  h.grad_e.assign(meta_.nblocks, torch::Tensor());
  h.saved.assign(meta_.nblocks, {});
  h.e_in[0] = h.compiled ? h.edge0.detach() : h.edge0.detach().requires_grad_(true);
  tensor_to_vector(emb->elements()[0].toTensor(), node_feat);
}

void Model::halo_block(int b, const std::vector<double> &node_feat, std::vector<double> &node_sums)
{
  auto &h = *halo_;
  auto x = rows_to_tensor(node_feat, h.n_nodes, h.dim, impl_->device, impl_->dtype);
  if (h.compiled) {
    std::vector<torch::Tensor> inputs{x, h.e_in[b], h.vec, h.edge_index, h.short_ids};
    inputs.insert(inputs.end(), impl_->block_weights[b].begin(), impl_->block_weights[b].end());
    auto res = impl_->block->run(inputs);    // (edge features out, node sums, saved activations...)
    h.e_out[b] = res[0];
    h.sums[b] = res[1];
    h.saved[b].assign(res.begin() + 2, res.end());
    if (b + 1 < meta_.nblocks) h.e_in[b + 1] = res[0];
  } else {
    h.x_in[b] = x.requires_grad_(true);
    auto res = impl_->module.get_method("block_messages")({static_cast<int64_t>(b), h.x_in[b], h.e_in[b], h.rbf,
                                                          h.edge_index, h.threebody})
                   .toTuple();
    h.e_out[b] = res->elements()[0].toTensor();
    h.sums[b] = res->elements()[1].toTensor();
    if (b + 1 < meta_.nblocks) h.e_in[b + 1] = h.e_out[b].detach().requires_grad_(true);
  }
  tensor_to_vector(h.sums[b], node_sums);
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
  add_to(h.grad_vec, g[1]);
  tensor_to_vector(g[0].defined() ? g[0] : torch::zeros_like(x), grad_feat);
  auto e_cpu = energy.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  out.node_energy.assign(e_cpu.data_ptr<double>(), e_cpu.data_ptr<double>() + h.n_local);
  out.energy = total.detach().to(torch::kCPU, torch::kFloat64).item<double>();
}

void Model::halo_block_backward(int b, const std::vector<double> &grad_sums, std::vector<double> &grad_feat)
{
  auto &h = *halo_;
  auto gs = rows_to_tensor(grad_sums, h.n_nodes, h.dim, impl_->device, impl_->dtype);
  const bool has_next = b + 1 < meta_.nblocks && h.grad_e[b + 1].defined();
  if (h.compiled) {
    // the last block's edge features reach no energy: their gradient is zero
    auto ge = has_next ? h.grad_e[b + 1] : torch::zeros_like(h.e_out[b]);
    std::vector<torch::Tensor> inputs = std::move(h.saved[b]);
    inputs.push_back(gs);
    inputs.push_back(ge);
    auto res = impl_->block_grad->run(inputs);
    inputs.clear();    // the block's saved activations are not needed again
    h.grad_e[b] = res[1];
    add_to(h.grad_vec, res[2]);
    tensor_to_vector(res[0], grad_feat);
    return;
  }
  std::vector<torch::Tensor> outputs{h.sums[b]};
  std::vector<torch::Tensor> grads{gs};
  if (has_next) {
    outputs.push_back(h.e_out[b]);
    grads.push_back(h.grad_e[b + 1]);
  }
  std::vector<torch::Tensor> inputs{h.x_in[b], h.e_in[b], h.edge_vec};
  auto g = torch::autograd::grad(outputs, inputs, grads, true, false, true);
  if (g[1].defined()) h.grad_e[b] = g[1].detach();
  add_to(h.grad_vec, g[2]);
  tensor_to_vector(g[0].defined() ? g[0] : torch::zeros_like(h.x_in[b]), grad_feat);
}

void Model::halo_end(GraphOutput &out)
{
  auto &h = *halo_;
  torch::Tensor grad = h.grad_vec.defined() ? h.grad_vec : torch::zeros_like(h.edge_vec);
  if (h.grad_e[0].defined()) {
    auto g = torch::autograd::grad({h.edge0}, {h.edge_vec}, {h.grad_e[0]}, false, false, true);
    if (g[0].defined()) grad = grad + g[0];
  }
  auto g_cpu = grad.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  out.edge_grad.assign(g_cpu.data_ptr<double>(), g_cpu.data_ptr<double>() + g_cpu.numel());
  halo_.reset();
}

}    // namespace m3gnet
