{
  "variables": {"liburing%": "<!(node scripts/liburing.js)"},
  "targets": [
    {
      "target_name": "ringnet",
      "sources": [
        "native/binding/binding.cc",
        "native/binding/binding_loop.cc",
        "native/binding/binding_loop_tls.cc",
        "native/binding/binding_util.cc",
        "native/binding/binding_udp.cc",
        "native/binding/binding_codec.cc",
        "native/core/codec/codec.cc",
        "native/core/codec/delimiter.cc",
        "native/core/codec/fixed.cc",
        "native/core/codec/length_field.cc",
        "native/core/codec/line.cc",
        "native/core/io/io.cc",
        "native/core/io/io_readiness.cc",
        "native/core/reactor/acceptor.cc",
        "native/core/mem/bufpool.cc",
        "native/core/sys/cpu_posix.cc",
        "native/core/sys/errname.cc",
        "native/core/loop/loop.cc",
        "native/core/loop/loop_api.cc",
        "native/core/loop/loop_dial.cc",
        "native/core/loop/loop_codec.cc",
        "native/core/loop/loop_ops.cc",
        "native/core/loop/loop_tls.cc",
        "native/core/loop/loop_udp.cc",
        "native/core/transport/udp.cc",
        "native/core/sys/udp_posix.cc",
        "native/core/loop/loop_uring.cc",
        "native/core/mem/outbuf.cc",
        "native/core/reactor/registry.cc",
        "native/core/sys/dynsym_posix.cc",
        "native/core/sys/sock_addr.cc",
        "native/core/sys/sock_posix.cc",
        "native/core/sys/sock_unix.cc",
        "native/core/loop/taskq_posix.cc",
        "native/core/transport/listener.cc",
        "native/core/sys/clock_posix.cc",
        "native/core/time/timer_wheel.cc",
        "native/core/loop/deadlines.cc",
        "native/core/transport/dialer.cc",
        "native/core/transport/tls_context_openssl.cc",
        "native/core/transport/tls_session_openssl.cc",
        "native/core/transport/tls_bio_openssl.cc",
        "native/core/transport/tls_cache_openssl.cc"
      ],
      "include_dirs": ["native/core", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2", "-fvisibility=hidden"],
      "cflags_cc!": ["-fno-rtti"],
      "conditions": [
        ["OS=='linux'", {"sources": ["native/core/poller/poller_epoll.cc", "native/core/sys/sock_linux.cc", "native/core/sys/uring_probe_linux.cc", "native/core/sys/udp_mmsg_linux.cc"]}],
        ["liburing!=''", {
          "sources": ["native/core/io/io_uring.cc"],
          "defines": ["RINGNET_HAVE_IO_URING=1"],
          "libraries": ["<(liburing)"],
          "ldflags": ["-Wl,--exclude-libs,liburing.a"]
        }, {"sources": ["native/core/io/io_uring_none.cc"]}],
        ["OS=='mac'", {
          "sources": ["native/core/poller/poller_kqueue.cc", "native/core/sys/sock_darwin.cc", "native/core/sys/cpu_darwin.cc", "native/core/sys/udp_msg_darwin.cc"],
          "sources!": ["native/core/sys/cpu_posix.cc"],
          "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17", "MACOSX_DEPLOYMENT_TARGET": "10.15"}
        }],
        ["OS=='win'", {
          "sources": ["native/core/poller/poller_afd_win.cc", "native/core/poller/afd_win.cc", "native/core/sys/sock_win.cc", "native/core/sys/err_win.cc", "native/core/sys/cpu_win.cc", "native/core/sys/dynsym_win.cc", "native/core/loop/loop_udp_win.cc"],
          "sources!": ["native/core/sys/cpu_posix.cc", "native/core/sys/sock_posix.cc", "native/core/sys/sock_unix.cc", "native/core/sys/dynsym_posix.cc", "native/core/loop/loop_udp.cc", "native/core/transport/udp.cc", "native/core/sys/udp_posix.cc"],
          "defines": ["_WIN32_WINNT=0x0A00", "WIN32_LEAN_AND_MEAN", "NOMINMAX"],
          "libraries": ["-lws2_32"],
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/std:c++17"]}}
        }],
        ["OS=='freebsd'", {
          "sources": ["native/core/poller/poller_kqueue.cc", "native/core/sys/sock_darwin.cc", "native/core/sys/cpu_freebsd.cc", "native/core/sys/udp_mmsg_linux.cc"],
          "sources!": ["native/core/sys/cpu_posix.cc"]
        }]
      ]
    }
  ]
}
