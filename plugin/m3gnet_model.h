/* -*- c++ -*- ----------------------------------------------------------
   m3gnet-lammps: TorchScript M3GNet model wrapper (no LAMMPS, no torch in this header)

   Loads a file written by `python -m pydriver export`, checks its metadata, and evaluates per-node
   energies and dE/d(edge vector) for an explicit edge list. Kept free of LAMMPS so that it can be
   tested and reused on its own, and free of torch headers so pair_m3gnet.cpp compiles quickly.
------------------------------------------------------------------------- */

#ifndef M3GNET_MODEL_H
#define M3GNET_MODEL_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace m3gnet {

// the model file's contract: pydriver/model_file.py (tests/m3gnet/test_model_file.py ties these to it)
constexpr int FORMAT_VERSION = 3;    // 3: sha256 per archive entry; 2: three-body geometry from `threebody`
constexpr const char *FORMAT_NAME = "pydriver-m3gnet";
constexpr const char *METADATA_FILE = "metadata.json";
constexpr const char *EXTRA_FOLDER = "extra/";          // extra files below the archive's root folder
constexpr const char *CHECKSUM_KEY = "entry_sha256";    // metadata: {entry name: sha256 hex}
constexpr const char *UNCHECKED_ENTRIES[] = {"extra/metadata.json", ".data/serialization_id"};
constexpr const char *CHECKPOINT_MARKERS[] = {"model.json", "state.pt"};    // a matgl checkpoint folder
// x86-64 instruction sets as torch names them, each a superset of the ones before it (elsewhere: equal names)
constexpr const char *CPU_CAPABILITY_ORDER[] = {"DEFAULT", "AVX2", "AVX512"};

// AOTInductor packages stored in the model file for one device type (pydriver.m3gnet.compiled)
struct CompiledPackage {
  std::string file;                   // energy + gradient: extra-file name inside the TorchScript archive
  std::string torch;                  // torch version that built it ("2.13.0+cpu")
  int threads = 1;                    // OpenMP threads of its CPU loops (0: the run's count; cuda)
  std::string cpu_capability;         // instruction set it was compiled for ("AVX512"; empty: not recorded)
  std::string halo_block, halo_block_grad;    // one interaction block, forward (it also returns the
                                              // activations the backward reads) and backward (comm halo)
  std::vector<std::string> halo_weights;      // the block packages' weight inputs, below "blocks.<b>."
};

struct ModelMetadata {
  std::string format;
  int format_version = -1;
  std::string model_name;
  std::vector<std::string> elements;
  double cutoff_A = 0.0;
  double threebody_cutoff_A = 0.0;
  int nblocks = 0;
  int node_feature_dim = 0;
  std::string dtype;
  std::string device;
  double data_mean_eV = 0.0;         // structure-level energy shift
  std::string source_sha256;
  bool calc_repuls = false;
  std::string threebody;              // "density" or "triples"
  std::map<std::string, CompiledPackage> compiled;    // by device type ("cpu", "cuda")
  std::map<std::string, std::string> entry_sha256;     // archive entry (below the root folder) -> sha256
};

// pair_style m3gnet compiled auto|yes|no: use the file's compiled package when it fits / require it / never
enum class CompiledUse { AUTO, YES, NO };

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
  Model(const std::string &path, const std::string &device_request, CompiledUse use = CompiledUse::AUTO);
  ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  const ModelMetadata &metadata() const { return meta_; }
  const std::string &device_name() const { return device_name_; }
  // whether compute() runs the compiled package (graphs of >= 2 nodes, bonds and short bonds; any
  // thread count: its loops and matrix products use torch's threads), and why
  bool uses_compiled() const;
  const std::string &engine_note() const { return engine_note_; }
  // whether the halo protocol below runs the per-block packages (steps whose graph has >= 2 nodes, bonds
  // and short bonds on this rank; smaller ones take TorchScript), and why
  bool uses_compiled_halo() const;
  const std::string &halo_engine_note() const { return halo_engine_note_; }
  // Energies of the first n_energy_nodes nodes are summed and differentiated (all when < 0).
  void compute(const GraphInput &in, GraphOutput &out, int n_energy_nodes = -1);

  // ---- block-by-block protocol for an MPI halo exchange (see pair_m3gnet_comm.cpp) ----
  // Nodes are local atoms [0, n_local) then ghosts; edges must have local sources only.
  // Feature buffers are row-major (n_nodes x node_feature_dim) doubles on the CPU.
  // halo_begin: geometry and embeddings; writes the initial node features of every node.
  void halo_begin(const GraphInput &in, int n_local, std::vector<double> &node_feat);
  // forward of block b on node features with ghost rows filled: node sums of every node.
  void halo_block(int b, const std::vector<double> &node_feat, std::vector<double> &node_sums);
  // readout on local rows; returns dE/d(node_feat) (ghost rows zero) and the local energies.
  void halo_readout(const std::vector<double> &node_feat, GraphOutput &out, std::vector<double> &grad_feat);
  // backward of block b given dE/d(node_sums) with ghost rows filled; returns dE/d(node_feat of block b).
  void halo_block_backward(int b, const std::vector<double> &grad_sums, std::vector<double> &grad_feat);
  // finish: dE/d(edge_vec) into out.edge_grad, release the step's tensors.
  void halo_end(GraphOutput &out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  struct HaloState;
  std::unique_ptr<HaloState> halo_;
  ModelMetadata meta_;
  std::string device_name_;
  std::string engine_note_;
  std::string halo_engine_note_;
};

// Number of torch intra-op threads of this process (LAMMPS: comm->nthreads).
void set_num_threads(int n);

// libtorch version and number of visible CUDA devices, for the start-up log.
std::string torch_description();

// Whether a package compiled for the CPU instruction set `recorded` runs where torch reports `here`
// (pydriver.model_file.capability_fits).
bool capability_fits(const std::string &recorded, const std::string &here);

// Parse the metadata JSON written by the exporter; throws std::runtime_error naming the problem.
ModelMetadata parse_metadata(const std::string &json);

}    // namespace m3gnet

#endif
