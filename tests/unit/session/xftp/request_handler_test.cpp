// What xftpd does with each request against a real served root (spec section 3).
#include "session/xftp/request_handler.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

using xftp::Command;
using xftp::Status;

class XftpRequestHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::mkdir((dir / "root").c_str(), 0755);
    ::mkdir((dir / "root/sub").c_str(), 0755);
    write_file(dir / "root/hello.txt", "hello");
    write_file(dir / "outside.txt", "outside");
    ASSERT_EQ(::symlink("../outside.txt", (dir / "root/out").c_str()), 0);
    auto s = storage::Sandbox::confined(dir / "root");
    ASSERT_TRUE(s.has_value());
    root.emplace(std::move(*s));
    handler.emplace(*root);
  }
  session::XftpOutcome run(Command c, std::string path, std::string to = {}, bool may = true) {
    return handler->execute({c, std::move(path), std::move(to)}, may);
  }
  TempDir dir;
  std::optional<storage::Sandbox> root;
  std::optional<session::XftpRequestHandler> handler;
};

TEST_F(XftpRequestHandlerTest, ListAnswersAsTheOriginal) {
  auto o = run(Command::list, "/sub");
  EXPECT_EQ(o.status, Status::ok);
  EXPECT_EQ(o.data, R"({"dirs": [], "files": []})");
  EXPECT_EQ(run(Command::list, "/nope").status, Status::not_found);
  EXPECT_EQ(run(Command::list, "/hello.txt").status, Status::invalid);
}

TEST_F(XftpRequestHandlerTest, ListLeavesOutWhatDoesNotFitALegacyDatagram) {
  for (int i = 0; i < 400; ++i) write_file(dir / ("root/sub/file-number-" + std::to_string(i)), "");
  auto o = run(Command::list, "/sub");
  EXPECT_EQ(o.status, Status::ok);
  EXPECT_LE(xftp::kHeaderSize + o.data.size(), xftp::kLegacyDatagram);
  EXPECT_GT(xftp::kHeaderSize + o.data.size(), xftp::kLegacyDatagram - 40);  // not too eager
  auto parsed = xftp::parse_list_json(o.data);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->files.size() + o.left_out, 400U);
  EXPECT_GT(o.left_out, 0U);
}

TEST_F(XftpRequestHandlerTest, UploadIsExclusiveAndInvisibleUntilCommitted) {
  EXPECT_EQ(run(Command::upload, "/hello.txt").status, Status::file_exists);
  EXPECT_EQ(run(Command::upload, "/nodir/x").status, Status::internal_error);
  EXPECT_EQ(run(Command::upload, "/new", {}, false).status, Status::internal_error);
  auto first = run(Command::upload, "/new");
  ASSERT_EQ(first.status, Status::ok);
  ASSERT_TRUE(first.upload.has_value());
  EXPECT_FALSE(exists(dir / "root/new"));
  EXPECT_EQ(run(Command::upload, "/new").status, Status::file_exists);  // a second, concurrent
  ASSERT_TRUE(first.upload->pwrite_all(as_bytes(std::string_view("data")), 0));
  ASSERT_TRUE(first.upload->commit());
  EXPECT_EQ(read_file(dir / "root/new"), "data");
}

TEST_F(XftpRequestHandlerTest, DownloadOnlyOfRegularFilesInsideTheRoot) {
  auto o = run(Command::download, "/hello.txt");
  EXPECT_EQ(o.status, Status::ok);
  EXPECT_TRUE(o.download.has_value());
  EXPECT_EQ(run(Command::download, "/sub").status, Status::invalid);
  EXPECT_EQ(run(Command::download, "/nope").status, Status::not_found);
  EXPECT_NE(run(Command::download, "/out").status, Status::ok);  // a symlink out of the root
  EXPECT_EQ(run(Command::download, "/hello.txt", {}, false).status, Status::internal_error);
}

TEST_F(XftpRequestHandlerTest, DeleteMkdirMove) {
  EXPECT_EQ(run(Command::mkdir, "/made").status, Status::ok);
  EXPECT_EQ(run(Command::mkdir, "/made").status, Status::file_exists);
  EXPECT_EQ(run(Command::mkdir, "/nodir/made").status, Status::not_found);
  EXPECT_EQ(run(Command::move, "/hello.txt", "/made/h").status, Status::ok);
  EXPECT_EQ(run(Command::move, "/hello.txt", "/x").status, Status::not_found);
  write_file(dir / "root/other", "o");
  EXPECT_EQ(run(Command::move, "/other", "/made/h").status, Status::file_exists);
  EXPECT_EQ(read_file(dir / "root/made/h"), "hello");
  EXPECT_EQ(run(Command::remove, "/made").status, Status::invalid);  // not empty
  EXPECT_EQ(run(Command::remove, "/made/h").status, Status::ok);
  EXPECT_EQ(run(Command::remove, "/made/h").status, Status::not_found);
  EXPECT_EQ(run(Command::remove, "/made").status, Status::ok);
  EXPECT_EQ(run(Command::remove, "/").status, Status::invalid);
  EXPECT_EQ(run(Command::remove, "/out").status, Status::ok);  // the link itself, not its target
  EXPECT_EQ(read_file(dir / "outside.txt"), "outside");
}

}  // namespace
}  // namespace ferry::test
