#include "support/zip.h"

#include <gtest/gtest.h>
#include <zip.h>

#include <cstdlib>
#include <cstring>

namespace sessiond::testing {

void BuildZip(const std::string& path, const std::vector<ZipEntry>& entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr) << "zip_open " << err;
  for (const ZipEntry& e : entries) {
    zip_int64_t idx;
    if (e.is_dir) {
      idx = zip_dir_add(z, e.name.c_str(), ZIP_FL_ENC_RAW);
    } else {
      // The buffer must outlive zip_close; libzip copies it when freep=1, so hand it a copy.
      void* copy = std::malloc(e.data.size() + 1);
      std::memcpy(copy, e.data.data(), e.data.size());
      zip_source_t* src = zip_source_buffer(z, copy, e.data.size(), 1);
      ASSERT_NE(src, nullptr);
      idx = zip_file_add(z, e.name.c_str(), src, ZIP_FL_ENC_RAW | ZIP_FL_OVERWRITE);
      if (idx < 0) zip_source_free(src);
    }
    ASSERT_GE(idx, 0) << e.name << ": " << zip_strerror(z);
    if (e.unix_mode) {
      ASSERT_EQ(zip_file_set_external_attributes(z, idx, 0, ZIP_OPSYS_UNIX, *e.unix_mode << 16), 0);
    }
  }
  ASSERT_EQ(zip_close(z), 0);
}

}  // namespace sessiond::testing
