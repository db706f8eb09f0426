/* -*- c++ -*- ----------------------------------------------------------
   m3gnet-lammps: pair_style m3gnet (LAMMPS plugin)

   pair_style m3gnet [device cpu|cuda|cuda:N] [comm auto|halo|shell] [compiled auto|yes|no]
   pair_coeff * * model.pt El1 El2 ...   (one element per atom type; repeats allowed; no NULL)

   Runs an M3GNet potential exported by `python -m pydriver export` (TorchScript) through libtorch.
   The model returns per-atom energies and dE/d(edge vector) for every bond i -> j within the cutoff;
   forces are F_i += g, F_j -= g on the actual (possibly ghost) neighbour j, the global virial comes
   from F.r, the per-atom virial from per-bond tallies.
------------------------------------------------------------------------- */

#ifndef LMP_PAIR_M3GNET_H
#define LMP_PAIR_M3GNET_H

#include "pair.h"

#include "m3gnet_model.h"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace LAMMPS_NS {

class PairM3GNet : public Pair {
 public:
  PairM3GNet(class LAMMPS *);
  ~PairM3GNet() override;

  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  void init_list(int, class NeighList *) override;
  double init_one(int, int) override;

  int pack_forward_comm(int, int *, double *, int, int *) override;
  void unpack_forward_comm(int, int, double *) override;
  int pack_reverse_comm(int, int, double *) override;
  void unpack_reverse_comm(int, int *, double *) override;

 protected:
  // COMM_AUTO: owned-atom graph on one rank, halo on several
  enum class CommMode { AUTO, HALO, SHELL };
  // how a step builds and evaluates the graph: the one place where comm mode and rank count decide it
  enum class GraphMode { SERIAL, HALO, SHELL };
  GraphMode graph_mode() const;

  void allocate();
  void build_owner_map();
  int owner_of(tagint tag) const;
  void check_special_bonds();
  void check_neighbor_exclusions();
  void check_type_labels();
  void check_list_is_complete();
  void collect_bonds(int n_src);
  void set_edge_index(const std::vector<int> &dst);
  void build_graph_serial();
  void build_graph_all_nodes(bool ghost_sources);
  void compute_halo(m3gnet::GraphOutput &out);
  void exchange(std::vector<double> &rows, bool reverse);
  void tally(const m3gnet::GraphOutput &out, int eflag, int vflag);
  double shell_cutoff() const;

  std::unique_ptr<m3gnet::Model> model;
  std::string device_request;     // from pair_style; empty: the model's default
  m3gnet::CompiledUse compiled_use = m3gnet::CompiledUse::AUTO;    // from pair_style
  std::string model_path;
  std::vector<int> type_species;  // LAMMPS type (1..ntypes) -> model species index
  double cutoff_A;                // model cutoff
  CommMode comm_mode;
  int feat_dim;                   // node feature width exchanged per atom (halo)
  double *comm_rows;              // rows (nall x feat_dim) being exchanged by pack/unpack
  bool list_checked = false;      // neighbour list checked for skipped pairs since the last init_list
  std::vector<double> feat, sums, grad_feat, grad_x;    // halo buffers (nall x feat_dim)

  // per-step scratch, reused across steps (capacity only grows to the largest graph seen)
  m3gnet::GraphInput graph;
  m3gnet::GraphOutput result;
  std::vector<int> edge_i, edge_j;                  // LAMMPS indices (j may be a ghost) of each edge
  std::unordered_map<tagint, int> tag_owner;        // atom ID -> owned index when LAMMPS keeps no atom map
};

}    // namespace LAMMPS_NS

#endif
