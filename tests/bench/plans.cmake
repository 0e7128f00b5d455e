# Benchmark of `plan check` (issue 5): a generated plan of 200 described
# devices and 1,000 steps (goal < 1 s). Run by hand: build/bin/bench_plan_check.
# Included from tests/bench/CMakeLists.txt.
if(TARGET hsm_plans)
  add_executable(bench_plan_check ${CMAKE_CURRENT_LIST_DIR}/bench_plan_check.cpp)
  target_link_libraries(bench_plan_check PRIVATE hsm_plans hsm_settings)
endif()
