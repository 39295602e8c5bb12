# Installation layout (FHS) and Debian packages built with CPack:
#   microscape-controller  /usr/bin/microscape-controller, /etc/microscape/controller.properties,
#                          /usr/share/microscape/web, systemd unit, system user, /var/lib/microscape
#   microscape-player      /usr/bin/microscape-player, /etc/microscape/player.properties, systemd unit
#   microscape-pack        /usr/bin/microscape-pack (bundles and offline audits; both others depend on it)
# and each package's copyright, changelog and manual pages; the binaries are
# stripped, their debug information goes into <package>-dbgsym .ddeb packages.
# Build with:  cpack --config build/CPackConfig.cmake -B DIR
# The Maintainer field: -DMICROSCAPE_MAINTAINER="Name <address>" (default from
# DEBFULLNAME/DEBEMAIL, as Debian's own tools do).
include(GNUInstallDirs)

set(MICROSCAPE_DEPLOY ${PROJECT_SOURCE_DIR}/deploy)

if(DEFINED ENV{DEBEMAIL} AND DEFINED ENV{DEBFULLNAME})
  set(maintainer_default "$ENV{DEBFULLNAME} <$ENV{DEBEMAIL}>")
else()
  set(maintainer_default "Microscape maintainers <maintainers@microscape.example>")
endif()
set(MICROSCAPE_MAINTAINER "${maintainer_default}" CACHE STRING "Maintainer field of the Debian packages: Name <address>")

# Per package: the DEP-5 copyright, the changelog (gzip -9n, as dpkg wants it),
# lintian overrides (each with its reason) and the manual pages generated from
# the programs' own --help (deploy/man/make-man.sh).
set(MICROSCAPE_PKG_DIR ${CMAKE_BINARY_DIR}/debian)
file(MAKE_DIRECTORY ${MICROSCAPE_PKG_DIR}/man)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${MICROSCAPE_DEPLOY}/debian/changelog)
execute_process(COMMAND gzip -9nc ${MICROSCAPE_DEPLOY}/debian/changelog
                OUTPUT_FILE ${MICROSCAPE_PKG_DIR}/changelog.gz RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip of deploy/debian/changelog failed")
endif()
set(MICROSCAPE_MAN_PAGES)
function(microscape_package_docs component package)
  install(FILES ${MICROSCAPE_DEPLOY}/debian/copyright ${MICROSCAPE_PKG_DIR}/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component})
  if(EXISTS ${MICROSCAPE_DEPLOY}/debian/${component}.lintian-overrides)
    install(FILES ${MICROSCAPE_DEPLOY}/debian/${component}.lintian-overrides
            DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME ${package} COMPONENT ${component})
  endif()
endfunction()
# microscape_man_page(TARGET COMPONENT SUMMARY [COMMAND...]): NAME.1.gz from TARGET's --help.
function(microscape_man_page target component summary)
  set(page ${MICROSCAPE_PKG_DIR}/man/${target}.1)
  add_custom_command(OUTPUT ${page}.gz
                     COMMAND ${MICROSCAPE_DEPLOY}/man/make-man.sh ${page} ${target} ${PROJECT_VERSION} ${summary}
                             $<TARGET_FILE:${target}> ${ARGN}
                     COMMAND gzip -9nf ${page}
                     DEPENDS ${target} ${MICROSCAPE_DEPLOY}/man/make-man.sh
                     COMMENT "Manual page ${target}(1) from ${target} --help" VERBATIM)
  install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${component})
  set(MICROSCAPE_MAN_PAGES ${MICROSCAPE_MAN_PAGES} ${page}.gz PARENT_SCOPE)
endfunction()

microscape_package_docs(pack microscape-pack)
microscape_man_page(microscape-pack pack "build, verify and extract signed content bundles, audit evidence exports"
                    keygen build verify inspect extract audit)

install(TARGETS microscape-pack RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT pack)
install(FILES ${PROJECT_SOURCE_DIR}/docs/bundle-format.md ${PROJECT_SOURCE_DIR}/docs/audit-export.md
              ${PROJECT_SOURCE_DIR}/docs/exit-codes.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/microscape-pack COMPONENT pack)

if(TARGET microscape-controller)
  install(TARGETS microscape-controller microscape-probe RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT controller)
  install(FILES ${MICROSCAPE_DEPLOY}/controller.properties DESTINATION /etc/microscape COMPONENT controller)
  install(FILES ${MICROSCAPE_DEPLOY}/systemd/microscape-controller.service
          DESTINATION /usr/lib/systemd/system COMPONENT controller)
  if(EXISTS ${PROJECT_SOURCE_DIR}/controller/web)
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/controller/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/microscape/web
            COMPONENT controller)
  endif()
  microscape_package_docs(controller microscape-controller)
  microscape_man_page(microscape-controller controller "Microscape signage controller (web console, API, hub)")
  microscape_man_page(microscape-probe controller "probe one uploaded media file in a confined process (started by the controller)")
  install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/microscape-controller
          COMPONENT controller)
  # A media mirror in front of the controller (docs/guide-operator.md, "Media mirrors").
  install(FILES ${MICROSCAPE_DEPLOY}/nginx/microscape-mirror.conf
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/microscape-controller/examples COMPONENT controller)
  foreach(doc controller-api.md console.md reports.md guide-operator.md guide-staff.md guide-auditor.md architecture.md
              exit-codes.md logging.md)
    if(EXISTS ${PROJECT_SOURCE_DIR}/docs/${doc})
      install(FILES ${PROJECT_SOURCE_DIR}/docs/${doc} DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/microscape-controller
              COMPONENT controller)
    endif()
  endforeach()
endif()

if(TARGET microscape-player AND EXISTS ${MICROSCAPE_DEPLOY}/player.properties)
  install(TARGETS microscape-player RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT player)
  install(FILES ${MICROSCAPE_DEPLOY}/player.properties DESTINATION /etc/microscape COMPONENT player)
  install(FILES ${MICROSCAPE_DEPLOY}/systemd/microscape-player.service
          DESTINATION /usr/lib/systemd/system COMPONENT player)
  microscape_package_docs(player microscape-player)
  microscape_man_page(microscape-player player "Microscape screen player (enrol, run, import, status)"
                      enroll run import status)
  foreach(doc guide-technician.md player.md player-screen.md wire-protocol.md exit-codes.md logging.md)
    if(EXISTS ${PROJECT_SOURCE_DIR}/docs/${doc})
      install(FILES ${PROJECT_SOURCE_DIR}/docs/${doc} DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/microscape-player
              COMPONENT player)
    endif()
  endforeach()
  set(MICROSCAPE_HAVE_PLAYER_PACKAGE ON)
endif()
add_custom_target(microscape-man ALL DEPENDS ${MICROSCAPE_MAN_PAGES})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_VENDOR "Microscape")
set(CPACK_PACKAGE_CONTACT "${MICROSCAPE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps fills in the libraries
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
# Stripped binaries; their debug information in <package>-dbgsym (a .ddeb, as
# Debian's archive builds them). Needs a build type with -g (RelWithDebInfo).
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
set(CPACK_COMPONENTS_ALL pack controller)
if(MICROSCAPE_HAVE_PLAYER_PACKAGE)
  list(APPEND CPACK_COMPONENTS_ALL player)
endif()

set(CPACK_DEBIAN_PACK_PACKAGE_NAME microscape-pack)
set(CPACK_DEBIAN_PACK_PACKAGE_DEPENDS "vlc-plugin-base, tzdata")
set(CPACK_COMPONENT_PACK_DESCRIPTION "build, verify and audit Microscape signed content bundles
Microscape is a signage network whose controller sends signed content
bundles to unattended screens and receives signed proof of play back.
\nmicroscape-pack makes content signing keys, builds, verifies, inspects and
extracts signed bundles (for screens without a network, or for archiving),
and verifies proof-of-play evidence exports offline, recounting the plays
without trusting the controller.")

set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME microscape-controller)
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_DEPENDS "microscape-pack (= ${PROJECT_VERSION}), adduser, vlc-plugin-base, imagemagick, ffmpeg, tzdata, libjs-bootstrap5, libjs-chart.js")
set(CPACK_COMPONENT_CONTROLLER_DESCRIPTION "Microscape signage controller
The controller of a Microscape signage network: a web console and REST API
for media, approval, playlists, schedules and campaigns. It compiles a
signed bundle for each screen, distributes it to the players over ZeroMQ
(CURVE), and ingests, verifies and reports their signed proof of play.")

set(CPACK_DEBIAN_PLAYER_PACKAGE_NAME microscape-player)
# fonts-noto-cjk: the status card, slogans and banners are drawn with a CJK font.
set(CPACK_DEBIAN_PLAYER_PACKAGE_DEPENDS "microscape-pack (= ${PROJECT_VERSION}), adduser, vlc-plugin-base, tzdata, fonts-noto-cjk")
set(CPACK_COMPONENT_PLAYER_DESCRIPTION "Microscape signage screen player
The unattended screen of a Microscape signage network: it verifies the
signed bundles its controller sends, keeps them for offline playback,
plays them fullscreen with libvlc by their schedule, and reports every
play in a signed, hash-chained proof-of-play journal.")

# Maintainer scripts deploy/debian/<component>.<script>; CPack wants them named
# exactly "postinst", "prerm": stage a copy per component.
foreach(comp controller player)
  string(TOUPPER ${comp} COMP)
  set(extra)
  foreach(script postinst prerm postrm)
    if(EXISTS ${MICROSCAPE_DEPLOY}/debian/${comp}.${script})
      file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/debian/${comp})
      configure_file(${MICROSCAPE_DEPLOY}/debian/${comp}.${script} ${CMAKE_BINARY_DIR}/debian/${comp}/${script} COPYONLY)
      list(APPEND extra ${CMAKE_BINARY_DIR}/debian/${comp}/${script})
    endif()
  endforeach()
  # The configuration file is a conffile: an upgrade keeps the admin's edits.
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/debian/${comp})
  file(WRITE ${CMAKE_BINARY_DIR}/debian/${comp}/conffiles "/etc/microscape/${comp}.properties\n")
  list(APPEND extra ${CMAKE_BINARY_DIR}/debian/${comp}/conffiles)
  set(CPACK_DEBIAN_${COMP}_PACKAGE_CONTROL_EXTRA "${extra}")
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
