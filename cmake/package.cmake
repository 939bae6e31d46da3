# ember as a package: namespaced targets (ember::tensor, ember::autograd, ember::nn, ember::data,
# ember::dist, ember::hpo, ember::report, ember::zoo and the umbrella ember::ember), usable the same way after
# add_subdirectory(ember) and after find_package(ember); install rules for the libraries, the
# headers (include/ember/<folder>/..., the in-tree include paths), the `ember` command, the CMake
# package (emberConfig.cmake + version) and a pkg-config file.

# Libraries in link order (a library comes before the ones it uses), for pkg-config's Libs line.
set(_ember_libs ember_zoo ember_dist ember_nn ember_data ember_hpo ember_report ember_autograd ember_tensor)
set(_ember_present)
foreach(lib IN LISTS _ember_libs)
  if(TARGET ${lib})
    list(APPEND _ember_present ${lib})
    string(REPLACE "ember_" "" _name ${lib})
    add_library(ember::${_name} ALIAS ${lib})
    set_target_properties(${lib} PROPERTIES EXPORT_NAME ${_name})
  endif()
endforeach()

# The umbrella: everything this build has (`target_link_libraries(app PRIVATE ember::ember)`).
add_library(ember_umbrella INTERFACE)
target_link_libraries(ember_umbrella INTERFACE ${_ember_present})
set_target_properties(ember_umbrella PROPERTIES EXPORT_NAME ember)
add_library(ember::ember ALIAS ember_umbrella)
set_target_properties(ember_flags PROPERTIES EXPORT_NAME flags)

if(NOT EMBER_INSTALL)
  return()
endif()
include(CMakePackageConfigHelpers)
set(_ember_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/ember)

install(TARGETS ember_flags ember_umbrella ${_ember_present} EXPORT emberTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET ember)
  install(TARGETS ember RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
foreach(dir tensor autograd nn data dist hpo report zoo)
  if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/${dir})
    install(DIRECTORY ${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ember/${dir}
            FILES_MATCHING PATTERN "*.h")
  endif()
endforeach()
install(FILES ember/ember.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ember)

install(EXPORT emberTargets NAMESPACE ember:: DESTINATION ${_ember_cmake_dir})
configure_package_config_file(cmake/emberConfig.cmake.in ${PROJECT_BINARY_DIR}/emberConfig.cmake
                              INSTALL_DESTINATION ${_ember_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/emberConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/emberConfig.cmake ${PROJECT_BINARY_DIR}/emberConfigVersion.cmake
        DESTINATION ${_ember_cmake_dir})

# pkg-config: static archives, so the third-party libraries go on the Libs line as well.
set(EMBER_PC_LIBS "")
foreach(lib IN LISTS _ember_present)
  string(APPEND EMBER_PC_LIBS " -l${lib}")
endforeach()
set(EMBER_PC_DEPS "-lfmt -lz -ljpeg -pthread")
if(TARGET ember_hpo)
  string(APPEND EMBER_PC_DEPS " -lsqlite3 -lpq")
endif()
if(TARGET ember_dist)
  string(APPEND EMBER_PC_DEPS " -lgloo")
  if(NCCL_LIBRARY)  # CUDA builds: the NCCL communicator needs NCCL and the CUDA runtime
    get_filename_component(_ember_nccl_dir "${NCCL_LIBRARY}" DIRECTORY)
    string(APPEND EMBER_PC_DEPS " -L${_ember_nccl_dir} -lnccl -lcudart")  # both in the toolkit's lib/
  endif()
endif()
# Relocatable: the prefix is found from the .pc file's own folder, so `cmake --install --prefix X`
# works for any X chosen after configuring.
file(RELATIVE_PATH EMBER_PC_TO_PREFIX /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
configure_file(cmake/ember.pc.in ${PROJECT_BINARY_DIR}/ember.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ember.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
