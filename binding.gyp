# node-gyp / @electron/rebuild entry point. It drives the same CMake build as `npm run build:native`
# (scripts/build.mjs → cmake-js) and places the result where node-gyp expects it:
# build/Release/videoscore2.node. The cmake tree is the one `npm run build:native` uses,
# .cache/cmake/cpu/, outside build/: `node-gyp rebuild` (which deletes build/) recompiles nothing.
{
  "targets": [
    {
      "target_name": "videoscore2",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_build",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["<(PRODUCT_DIR)/videoscore2.node"],
          "action": ["node", "scripts/build.mjs", "--copy-to", "<(PRODUCT_DIR)"]
        }
      ]
    }
  ]
}
