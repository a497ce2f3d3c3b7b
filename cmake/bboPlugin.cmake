# bbo_add_external_plugin(<name> SOURCES ...): builds libbbo_<name>.so against an installed bbo.
function(bbo_add_external_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  add_library(bbo_${name} MODULE ${P_SOURCES})
  target_link_libraries(bbo_${name} PRIVATE bbo::framework ${P_LIBS})
  set_target_properties(bbo_${name} PROPERTIES PREFIX "lib" OUTPUT_NAME "bbo_${name}" CXX_VISIBILITY_PRESET hidden)
endfunction()
