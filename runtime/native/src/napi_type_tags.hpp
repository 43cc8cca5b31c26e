// Type tags (N-API 8) of the addon's wrapped classes. ObjectWrap<T>::Unwrap trusts any wrapped
// object, so without a tag a NativeCache passed where a NativeBuffer is expected (a subclass of
// TargetBuffer whose `native` returns a cache's, say) would be read as a buffer: memory misread,
// a crash at worst. Constructors tag `this`; every unwrap checks the tag first.
#pragma once
#include <napi.h>

namespace kvf::napi {

// 128-bit values that only these classes carry ("kvforge" + class, as ASCII).
inline constexpr napi_type_tag kNativeBufferTag = {0x6b76666f72676500ULL, 0x4e61746976654275ULL};
inline constexpr napi_type_tag kNativeCacheTag = {0x6b76666f72676500ULL, 0x4e61746976654361ULL};
inline constexpr napi_type_tag kAttendPlanTag = {0x6b76666f72676500ULL, 0x417474656e64506cULL};
inline constexpr napi_type_tag kDenseMatrixTag = {0x6b76666f72676500ULL, 0x44656e73654d6174ULL};
inline constexpr napi_type_tag kDecoderModelTag = {0x6b76666f72676500ULL, 0x4465636f6465724dULL};

// The T wrapped by `v` when `v` carries `tag`, else nullptr (never throws for a wrong value).
template <class T>
T* unwrapTagged(const Napi::Value& v, const napi_type_tag& tag) {
  if (!v.IsObject()) return nullptr;
  const Napi::Object o = v.As<Napi::Object>();
  if (!o.CheckTypeTag(&tag)) return nullptr;
  return T::Unwrap(o);
}

}  // namespace kvf::napi
