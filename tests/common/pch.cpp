// Anchor for the shared test precompiled header (see tests/CMakeLists.txt).
