# bbo_add_external_plugin(<name> SOURCES ... [LIBS ...]): builds libbbo_<name>.so against an installed bbo
# (after find_package(bbo)). The library lands in <build>/plugins — point BBO_PLUGIN_PATH there — and is
# installed to <prefix>/lib/bbo/plugins of the project that builds it. The plugin must be compiled by the same
# compiler and against the same bbo major version as the host (the loader checks the build tag).
function(bbo_add_external_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT P_SOURCES)
    message(FATAL_ERROR "bbo_add_external_plugin(${name}): SOURCES is required")
  endif()
  add_library(bbo_${name} MODULE ${P_SOURCES})
  target_link_libraries(bbo_${name} PRIVATE bbo::framework ${P_LIBS})
  target_compile_features(bbo_${name} PRIVATE cxx_std_20)
  set_target_properties(bbo_${name} PROPERTIES PREFIX "lib" OUTPUT_NAME "bbo_${name}" CXX_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/plugins)
  if(DEFINED CMAKE_INSTALL_LIBDIR)
    set(_libdir ${CMAKE_INSTALL_LIBDIR})
  else()
    set(_libdir lib)
  endif()
  install(TARGETS bbo_${name} LIBRARY DESTINATION ${_libdir}/bbo/plugins)
endfunction()
