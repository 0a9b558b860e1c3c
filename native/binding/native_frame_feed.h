// NativeFrameFeed: the JS handle of a decode in progress (video.stream()) that a generate call
// reads frame pair by pair.
#pragma once

#include <napi.h>

#include <memory>

namespace vs2 {

class FrameFeed;

Napi::Function DefineFrameFeedClass(Napi::Env env);
// A new JS handle over `feed`.
Napi::Object WrapFrameFeed(Napi::Env env, std::shared_ptr<FrameFeed> feed);
// The feed behind a NativeFrameFeed object; null for any other value, or once the handle is closed.
std::shared_ptr<FrameFeed> FeedFromJs(Napi::Env env, const Napi::Value& v);

}  // namespace vs2
