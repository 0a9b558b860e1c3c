# node-gyp / @electron/rebuild entry point. It drives the same CMake build as `npm run build:native`
# (scripts/build.mjs → cmake-js) and places the result where node-gyp expects it:
# build/Release/videoscore2.node. The cmake tree lives in .cache/gyp/, outside build/, so that
# `node-gyp rebuild` (which deletes build/) does not rebuild llama.cpp from scratch.
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
          "action": ["node", "scripts/build.mjs", "--build-root", ".cache/gyp", "--copy-to", "<(PRODUCT_DIR)"]
        }
      ]
    }
  ]
}
