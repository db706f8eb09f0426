/* -*- c++ -*- ----------------------------------------------------------
   m3gnet-lammps: pair_style m3gnet (LAMMPS plugin)

   pair_style m3gnet [device cpu|cuda|cuda:N]
   pair_coeff * * model.pt El1 El2 ...   (one element per atom type; repeats allowed)

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
  double init_one(int, int) override;

 protected:
  void allocate();
  void build_owner_map();
  void build_graph_serial();
  void tally(const m3gnet::GraphOutput &out, int eflag, int vflag);

  std::unique_ptr<m3gnet::Model> model;
  std::string device_request;     // from pair_style; empty: the model's default
  std::string model_path;
  std::vector<int> type_species;  // LAMMPS type (1..ntypes) -> model species index
  double cutoff;                  // model cutoff (A)

  // per-step scratch, grown as needed
  m3gnet::GraphInput graph;
  std::vector<int> edge_i, edge_j;     // LAMMPS indices (j may be a ghost) of each edge
  std::vector<int> tag_owner;          // atom tag -> local index, rebuilt each step
};

}    // namespace LAMMPS_NS

#endif
