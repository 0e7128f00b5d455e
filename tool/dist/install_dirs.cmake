# Where `cmake --install` puts things, relative to the prefix (GNUInstallDirs),
# included by every folder that installs something. The tool finds what it
# needs relative to its own executable, so any --prefix works:
#   <prefix>/bin/hsm-migrate
#   <prefix>/<libdir>/hsm-migrate/plugins       (tool/plugin_loader.cpp)
#   <prefix>/share/hsm-migrate/plans            (tool/plan_runner.cpp)
#   <prefix>/share/man/man1, man5
#   <prefix>/lib/systemd/system                 (units; see tool/dist/systemd/README.md)
#   <prefix>/share/bash-completion/completions, share/zsh/vendor-completions
# No include_guard: each including folder needs the variables in its own scope.
include(GNUInstallDirs)
set(HSM_MIGRATE_INSTALL_PLUGINDIR ${CMAKE_INSTALL_LIBDIR}/hsm-migrate/plugins)
# The plugin folder as seen from the executable's folder, compiled into the
# tool: "../lib/hsm-migrate/plugins", or "../lib/x86_64-linux-gnu/..." when
# configured for prefix /usr on Debian.
file(RELATIVE_PATH HSM_MIGRATE_PLUGINDIR_FROM_BIN ${CMAKE_INSTALL_FULL_BINDIR}
     ${CMAKE_INSTALL_FULL_LIBDIR}/hsm-migrate/plugins)
# systemd looks in /usr/lib/systemd/system and /usr/local/lib/systemd/system
# (systemd.unit(5)): lib/systemd/system under either prefix is found as is;
# under any other prefix the administrator links the units in.
set(HSM_MIGRATE_INSTALL_SYSTEMDDIR lib/systemd/system)
