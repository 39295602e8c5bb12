# Installation layout (FHS) and Debian packages built with CPack:
#   microscape-controller  /usr/bin/microscape-controller, /etc/microscape/controller.properties,
#                          /usr/share/microscape/web, systemd unit, system user, /var/lib/microscape
#   microscape-player      /usr/bin/microscape-player, /etc/microscape/player.properties, systemd unit
#   microscape-pack        /usr/bin/microscape-pack (bundles and offline audits; both others depend on it)
# Build with:  cpack --config build/CPackConfig.cmake -B DIR
include(GNUInstallDirs)

set(MICROSCAPE_DEPLOY ${PROJECT_SOURCE_DIR}/deploy)

install(TARGETS microscape-pack RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT pack)
install(FILES ${PROJECT_SOURCE_DIR}/docs/bundle-format.md ${PROJECT_SOURCE_DIR}/docs/audit-export.md
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
  install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/microscape-controller
          COMPONENT controller)
  foreach(doc controller-api.md console.md reports.md guide-operator.md guide-staff.md guide-auditor.md architecture.md)
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
  foreach(doc guide-technician.md player.md player-screen.md wire-protocol.md)
    if(EXISTS ${PROJECT_SOURCE_DIR}/docs/${doc})
      install(FILES ${PROJECT_SOURCE_DIR}/docs/${doc} DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/microscape-player
              COMPONENT player)
    endif()
  endforeach()
  set(MICROSCAPE_HAVE_PLAYER_PACKAGE ON)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_VENDOR "Microscape")
set(CPACK_PACKAGE_CONTACT "Microscape maintainers <microscape@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps fills in the libraries
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_COMPONENTS_ALL pack controller)
if(MICROSCAPE_HAVE_PLAYER_PACKAGE)
  list(APPEND CPACK_COMPONENTS_ALL player)
endif()

set(CPACK_DEBIAN_PACK_PACKAGE_NAME microscape-pack)
set(CPACK_DEBIAN_PACK_PACKAGE_DEPENDS "vlc-plugin-base, tzdata")
set(CPACK_COMPONENT_PACK_DESCRIPTION "Microscape bundle and audit tool\n microscape-pack builds, verifies, inspects and extracts signed content\n bundles, and verifies proof-of-play evidence exports offline.")

set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME microscape-controller)
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_DEPENDS "microscape-pack (= ${PROJECT_VERSION}), adduser, vlc-plugin-base, tzdata, libjs-bootstrap5, libjs-chart.js")
set(CPACK_COMPONENT_CONTROLLER_DESCRIPTION "Microscape signage controller\n Web console and REST API for media, approval, schedules and campaigns;\n compiles signed per-screen bundles, distributes them over ZeroMQ and\n ingests proof of play.")

set(CPACK_DEBIAN_PLAYER_PACKAGE_NAME microscape-player)
# fonts-noto-cjk: the status card, slogans and banners are drawn with a CJK font.
set(CPACK_DEBIAN_PLAYER_PACKAGE_DEPENDS "microscape-pack (= ${PROJECT_VERSION}), adduser, vlc-plugin-base, tzdata, fonts-noto-cjk")
set(CPACK_COMPONENT_PLAYER_DESCRIPTION "Microscape screen player\n Verifies signed bundles, plays them unattended with libvlc (also offline)\n and reports signed, hash-chained proof of play.")

# Maintainer scripts deploy/debian/<component>.<script>; CPack wants them named
# exactly "postinst", "prerm": stage a copy per component.
foreach(comp controller player)
  string(TOUPPER ${comp} COMP)
  set(extra)
  foreach(script postinst prerm)
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
