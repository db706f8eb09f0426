/* -*- c++ -*- ----------------------------------------------------------
   m3gnet-lammps: TorchScript M3GNet model wrapper (no LAMMPS, no torch in this header)

   Loads a file written by `python -m pydriver export`, checks its metadata, and evaluates per-node
   energies and dE/d(edge vector) for an explicit edge list. Kept free of LAMMPS so that it can be
   tested and reused on its own, and free of torch headers so pair_m3gnet.cpp compiles quickly.
------------------------------------------------------------------------- */

#ifndef M3GNET_MODEL_H
#define M3GNET_MODEL_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace m3gnet {

constexpr int FORMAT_VERSION = 1;
constexpr const char *FORMAT_NAME = "pydriver-m3gnet";

struct ModelMetadata {
  std::string format;
  int format_version = -1;
  std::string model_name;
  std::vector<std::string> elements;
  double cutoff = 0.0;
  double threebody_cutoff = 0.0;
  int nblocks = 0;
  int node_feature_dim = 0;
  std::string dtype;
  std::string device;
  double data_mean = 0.0;
  std::string source_sha256;
};

// Inputs of one evaluation. Edges are directed src -> dst with vec = r_dst - r_src (A).
struct GraphInput {
  std::vector<int64_t> species;       // (n_nodes) element index per node
  std::vector<int64_t> edge_index;    // (2 * n_edges): all src, then all dst
  std::vector<double> edge_vec;       // (3 * n_edges)
};

struct GraphOutput {
  std::vector<double> node_energy;    // (n_nodes) eV, without data_mean
  std::vector<double> edge_grad;      // (3 * n_edges) dE_total / d edge_vec, eV/A
  double energy = 0.0;                // sum of node_energy
};

class Model {
 public:
  // Throws std::runtime_error with a one-line message on any problem.
  Model(const std::string &path, const std::string &device_request);
  ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  const ModelMetadata &metadata() const { return meta_; }
  const std::string &device_name() const { return device_name_; }
  // Energies of the first n_energy_nodes nodes are summed and differentiated (all when < 0).
  void compute(const GraphInput &in, GraphOutput &out, int n_energy_nodes = -1);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ModelMetadata meta_;
  std::string device_name_;
};

// Parse the metadata JSON written by the exporter (flat object; strings, numbers, string arrays).
ModelMetadata parse_metadata(const std::string &json);

}    // namespace m3gnet

#endif
