"""The HTTP API of SGLang 0.5.23: routes, validation, errors, auth, streaming and runtime faults."""
import array
import asyncio
import datetime
import json
import hmac
import os
import random
import time
import uuid
import zlib

from . import logs, schema as schemas, tokenizer
from .engine import Engine, Req
from .httpd import dumps

NOT_FOUND = {"detail": "Not Found"}
FLUSH_OK = ("Cache flushed.\nPlease check backend logs for more details. (When there are running or waiting "
            "requests, the operation will not be performed.)\n")
CUDA_NO_KERNEL = ("CUDA error: no kernel image is available for execution on the device\n"
                  "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace "
                  "below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1\n"
                  "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.\n")


class HTTPError(Exception):
    def __init__(self, status, message, etype):
        super().__init__(message)
        self.status, self.message, self.etype = status, message, etype

    def body(self):
        return {"object": "error", "message": self.message, "type": self.etype, "param": None, "code": self.status}


def bad_request(msg):
    return HTTPError(400, msg, "Bad Request")


def validation_error(loc, msg, etype, value):
    return bad_request("1 validation error:\n  {'type': '%s', 'loc': %r, 'msg': %r, 'input': %r}"
                       % (etype, tuple(loc), msg, value))


def fmt_usage(prompt, completion, cached, cache_report, reasoning=0, exclude_none=False):
    d = {"prompt_tokens": prompt, "total_tokens": prompt + completion, "completion_tokens": completion,
         "prompt_tokens_details": {"cached_tokens": cached} if cache_report else None,
         "reasoning_tokens": reasoning,
         "completion_tokens_details": {"reasoning_tokens": reasoning} if reasoning > 0 else None}
    if exclude_none:
        d = {k: v for k, v in d.items() if v is not None}
    return d


def new_rid():
    return uuid.uuid4().hex


def _seed_of(ids, extra):
    return zlib.crc32(array.array("I", [i & 0xFFFFFFFF for i in ids]).tobytes()) ^ (extra & 0xFFFFFFFF)


class Plan:
    """What a request will generate: token ids, their text, and how it ends."""

    def __init__(self, pieces, ids, finish_reason, matched_stop, reasoning_count=0):
        self.pieces, self.ids = pieces, ids
        self.finish_reason, self.matched_stop = finish_reason, matched_stop
        self.reasoning_count = reasoning_count


class NonStreamSink:
    def __init__(self, fut):
        self.fut = fut

    def tokens(self, req, a, b):
        pass

    def finish(self, req):
        if not self.fut.done():
            self.fut.set_result(req)


class ChatStreamSink:
    def __init__(self, app, resp, rid, created, model, include_usage, reasoning_count, fut, obj="chat"):
        self.app, self.resp, self.fut = app, resp, fut
        self.include_usage = include_usage
        self.reasoning_count = reasoning_count
        self.chunks = 0
        self.error_after = app.stream_error_after
        self.chat = obj == "chat"
        self.head = '{"id":"%s","object":"%s","created":%d,"model":%s,"choices":[' % (
            rid, "chat.completion.chunk" if self.chat else "text_completion", created, dumps(model))
        self.started = False

    def _event(self, body):
        return self.resp.write("data: " + body + "\n\n")

    def _start(self):
        if not self.started:
            self.started = True
            self.resp.start_stream()
            if self.chat:
                self._event(self.head + '{"index":0,"delta":{"reasoning_content":null,"role":"assistant",'
                                        '"content":""},"logprobs":null,"finish_reason":null,"matched_stop":null}]}')
            if self.error_after is not None and self.error_after <= 0:
                return self._error_out(None)
        return True

    def _error_out(self, req):
        err = {"error": {"object": "error", "message": "Simulated stream failure after %d chunks" % self.chunks,
                         "type": "BAD_REQUEST", "param": None, "code": 400}}
        self._event(dumps(err))
        self._event("[DONE]")
        self.resp.end_stream()
        if req is not None:
            self.app.engine.abort(req)
        if not self.fut.done():
            self.fut.set_result(req)
        return False

    def tokens(self, req, a, b):
        if self.fut.done():
            return
        # One transport write per group of events; when these are the last tokens the engine calls
        # `finish` right away (same tick), which sends its events in the same write.
        self.resp.cork()
        try:
            self._tokens(req, a, b)
        finally:
            if b < len(req.out_ids) or req.aborted or self.fut.done():
                self.resp.uncork()

    def _tokens(self, req, a, b):
        if not self._start():
            self.app.engine.abort(req)
            return
        if self.resp.closed():
            self.app.engine.abort(req)
            if not self.fut.done():
                self.fut.set_result(req)
            return
        rc = self.reasoning_count
        pieces = req.out_pieces
        segments = []
        if a < rc:
            segments.append((True, "".join(pieces[a:min(b, rc)])))
        if b > rc:
            segments.append((False, "".join(pieces[max(a, rc):b])))
        for is_reasoning, text in segments:
            if not text:
                continue
            if self.chat:
                if is_reasoning:
                    delta = '{"reasoning_content":%s}' % dumps(text)
                else:
                    delta = '{"reasoning_content":null,"content":%s}' % dumps(text)
                self._event(self.head + '{"index":0,"delta":%s,"logprobs":null,"finish_reason":null,'
                                        '"matched_stop":null}]}' % delta)
            else:
                self._event(self.head + '{"index":0,"text":%s,"logprobs":null,"finish_reason":null,'
                                        '"matched_stop":null}],"usage":null}' % dumps(text))
            self.chunks += 1
            if self.error_after is not None and self.chunks >= self.error_after:
                self._error_out(req)
                return

    def finish(self, req):
        if self.fut.done():
            self.resp.uncork()
            return
        self.resp.cork()
        try:
            self._finish(req)
        finally:
            self.resp.uncork()

    def _finish(self, req):
        if not self._start():
            return
        ms = dumps(req.matched_stop)
        if self.chat:
            self._event(self.head + '{"index":0,"delta":{"reasoning_content":null},"logprobs":null,'
                                    '"finish_reason":"%s","matched_stop":%s}]}' % (req.finish_reason, ms))
        else:
            self._event(self.head + '{"index":0,"text":"","logprobs":null,"finish_reason":"%s","matched_stop":%s}],'
                                    '"usage":null}' % (req.finish_reason, ms))
        if self.include_usage:
            u = fmt_usage(len(req.prompt_ids), req.out_pos, req.prefix_len or 0, self.app.args.enable_cache_report,
                          min(self.reasoning_count, req.out_pos), exclude_none=not self.chat)
            self._event(self.head + "],\"usage\":" + dumps(u) + "}")
        self._event("[DONE]")
        self.resp.end_stream()
        self.fut.set_result(req)


class GenerateStreamSink(ChatStreamSink):
    def __init__(self, app, resp, rid, fut):
        super().__init__(app, resp, rid, 0, "", False, 0, fut, obj="generate")
        self.rid = rid

    def _meta(self, req, finished):
        fr = None
        if finished:
            fr = ({"type": "length", "length": req.out_pos} if req.finish_reason == "length"
                  else {"type": "stop", "matched": req.matched_stop})
        return {"id": self.rid, "finish_reason": fr, "prompt_tokens": len(req.prompt_ids),
                "weight_version": "default", "total_retractions": 0, "completion_tokens": req.out_pos,
                "cached_tokens": req.prefix_len or 0}

    def tokens(self, req, a, b):
        if not self.started:
            self.started = True
            self.resp.start_stream()
        self.resp.write("data: " + dumps({"text": "".join(req.out_pieces[:b]), "output_ids": req.out_ids[:b],
                                          "meta_info": self._meta(req, False)}) + "\n\n")

    def finish(self, req):
        if not self.started:
            self.started = True
            self.resp.start_stream()
        self.resp.write("data: " + dumps({"text": "".join(req.out_pieces[:req.out_pos]),
                                          "output_ids": req.out_ids[:req.out_pos],
                                          "meta_info": self._meta(req, True)}) + "\n\n")
        self.resp.write("data: [DONE]\n\n")
        self.resp.end_stream()
        if not self.fut.done():
            self.fut.set_result(req)


class App:
    def __init__(self, args, cfg, server_args, metrics):
        self.args = args
        self.cfg = cfg
        self.server_args = server_args
        self.metrics = metrics
        self.served = args.served_model_name or args.model_path
        self.status = "Starting"
        # TokenizerManager state: `gracefully_exit` is set by the SIGTERM handler; `rid_to_state` holds the
        # requests in flight (what the SIGTERM watchdog drains); the handle loop (and with it the SIGTERM
        # handler and the watchdog) starts with the first request that reaches the tokenizer manager.
        self.gracefully_exit = False
        self.rid_to_state = {}
        self.tm_loop_started = False
        self.on_tm_loop_start = None
        self.engine = Engine(cfg, metrics)
        self.engine.on_complete = self._on_complete
        self.completed = 0
        self.arrivals = 0
        self.fault = cfg["fault"]
        env = os.environ
        self.crash_after = _int_env("SGLANG_SIM_CRASH_AFTER_REQUESTS")
        self.hang_after = _int_env("SGLANG_SIM_HANG_AFTER_REQUESTS")
        self.stream_error_after = _int_env("SGLANG_SIM_STREAM_ERROR_AFTER_CHUNKS")
        self.error_rate = float(env.get("SGLANG_SIM_ERROR_RATE", "0") or 0)
        self.seed = int(env.get("SGLANG_SIM_SEED", "0") or 0)
        self.error_rng = random.Random(self.seed)
        self.invalid_json = env.get("SGLANG_SIM_INVALID_JSON", "") not in ("", "0", "false")
        self.health_timeout = float(env.get("SGLANG_HEALTH_CHECK_TIMEOUT", "20"))
        self.health_gen_enabled = env.get("SGLANG_ENABLE_HEALTH_ENDPOINT_GENERATION", "true").lower() != "false"
        self.startup_time = time.time()
        self.exclude_prefixes = tuple(args.uvicorn_access_log_exclude_prefixes or ())
        self.crashing = False

    # ----- plumbing -----
    def on_response_start(self, req, status):
        if not req.path.startswith(self.exclude_prefixes) or not self.exclude_prefixes:
            logs.access(req.client, req.method, req.target, req.version, status)
        if self.metrics is not None and req.path not in ("/metrics",):
            self.metrics.http_end(_endpoint(req.path), req.method, status)

    def _on_complete(self, req):
        if not req.user or self.status != "Up":
            return
        self.completed += 1
        if self.crash_after is not None and self.completed >= self.crash_after and not self.crashing:
            self.crashing = True
            asyncio.get_running_loop().call_later(0.05, self._crash)

    def _crash(self):
        from .main import scheduler_crash
        scheduler_crash(["  File \"/sgl-workspace/sglang/python/sglang/srt/managers/scheduler.py\", line 3118, "
                         "in run_scheduler_process",
                         "    scheduler.event_loop_overlap()",
                         "  File \"/sgl-workspace/sglang/python/sglang/srt/managers/scheduler.py\", line 1164, "
                         "in event_loop_overlap",
                         "    batch_result = self.run_batch(batch)",
                         "RuntimeError: CUDA error: an illegal memory access was encountered"])

    def _authorized(self, req, admin_optional=False):
        args = self.args
        key = (args.admin_api_key or args.api_key) if admin_optional else args.api_key
        if not key:
            return True
        auth = req.headers.get("authorization", "")
        scheme, _sep, token = auth.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())

    async def handle(self, req, resp):
        path, method = req.path, req.method
        if self.metrics is not None and path != "/metrics":
            self.metrics.http_begin(_endpoint(path), method)
        exempt = method == "OPTIONS" or path.startswith(("/health", "/ready", "/metrics"))
        admin = path.startswith("/flush_cache")
        if not exempt and not self._authorized(req, admin_optional=admin):
            return resp.send(401, dumps({"error": "Unauthorized"}))
        route = ROUTES.get(path)
        if route is None and path.startswith("/v1/models/"):
            route = ROUTES["/v1/models/{model}"]
        if route is None or (path == "/metrics" and self.metrics is None):
            return resp.json(404, NOT_FOUND)
        methods, name = route
        if method not in methods:
            return resp.send(405, dumps({"detail": "Method Not Allowed"}), extra=("allow: " + ", ".join(methods),))
        try:
            await getattr(self, name)(req, resp)
        except HTTPError as e:
            if resp.status is None:
                resp.json(e.status, e.body())
        except Exception as e:  # noqa: BLE001
            logs.log("Error in request: %r" % e)
            if resp.status is None:
                resp.json(500, HTTPError(500, "Internal server error: %s" % e, "InternalServerError").body())

    def tm_loop(self):
        """TokenizerManager.auto_create_handle_loop: the first call starts the handle loop, installs the SIGTERM
        handler (replacing Uvicorn's) and starts the SIGTERM watchdog."""
        if not self.tm_loop_started:
            self.tm_loop_started = True
            if self.on_tm_loop_start is not None:
                self.on_tm_loop_start()

    # ----- health, info -----
    async def health(self, req, resp):
        if self.gracefully_exit:
            logs.log("Health check request received during shutdown. Returning 503.", prefix="")
            return resp.send(503, b"", None)
        if self.status != "Up":
            return resp.send(503, b"", None)
        if req.path == "/health" and not self.health_gen_enabled:
            return resp.send(200, b"", None)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        tic = time.time()
        r = Req("HEALTH_CHECK_%s" % new_rid(), [0], [tokenizer.piece_id(" the")], [" the"], "length", None,
                NonStreamSink(fut), log_metrics=False, insert_cache=False, user=False)
        self.tm_loop()
        self.rid_to_state[r.rid] = r
        self.engine.submit(r)
        try:
            await asyncio.wait_for(asyncio.shield(fut), self.health_timeout)
        except asyncio.TimeoutError:
            logs.log("Health check failed. Server couldn't get a response from detokenizer for last %d seconds. "
                     "tic start time: %s. last_heartbeat time: %s" % (
                         self.health_timeout, time.strftime("%H:%M:%S", time.localtime(tic)),
                         time.strftime("%H:%M:%S", time.localtime(self.startup_time))))
            self.status = "UnHealthy"
            self.engine.abort(r)
            return resp.send(503, b"", None)
        finally:
            self.rid_to_state.pop(r.rid, None)
        return resp.send(200, b"", None)

    async def ready(self, req, resp):
        resp.send(200 if self.status == "Up" and not self.gracefully_exit else 503, b"", None)

    def model_card(self):
        return {"id": self.served, "object": "model", "created": int(time.time()), "owned_by": "sglang",
                "root": self.served, "parent": None, "max_model_len": self.cfg["context_len"]}

    async def models(self, req, resp):
        resp.json(200, {"object": "list", "data": [self.model_card()]})

    async def model_one(self, req, resp):
        name = req.path[len("/v1/models/"):]
        if name != self.served:
            return resp.json(404, {"error": {"message": "The model '%s' does not exist" % name,
                                             "type": "invalid_request_error", "param": "model",
                                             "code": "model_not_found"}})
        resp.json(200, self.model_card())

    async def model_info(self, req, resp):
        if req.path == "/get_model_info":
            logs.log("Endpoint '/get_model_info' is deprecated and will be removed in a future version. "
                     "Please use '/model_info' instead.")
        a = self.args
        resp.json(200, {
            "model_path": a.model_path, "served_model_name": self.served,
            "tokenizer_path": a.tokenizer_path or a.model_path, "is_generation": True,
            "preferred_sampling_params": a.preferred_sampling_params, "weight_version": a.weight_version,
            "load_format": a.load_format, "reasoning_parser": a.reasoning_parser,
            "tool_call_parser": a.tool_call_parser, "disaggregation_mode": "null",
            "has_image_understanding": self.cfg["has_image"], "has_audio_understanding": False,
            "model_type": self.cfg["model_type"], "architectures": [self.cfg["architecture"]]})

    async def server_info(self, req, resp):
        self.tm_loop()
        if req.path == "/get_server_info":
            logs.log("Endpoint '/get_server_info' is deprecated and will be removed in a future version. "
                     "Please use '/server_info' instead.")
        cfg = self.cfg
        info = dict(self.server_args)
        info["launch_command"] = cfg["launch_command"]
        info.update({"status": "ready", "max_total_num_tokens": cfg["max_total_num_tokens"],
                     "max_req_input_len": cfg["context_len"] - 1, "startup_time": self.startup_time,
                     "hicache_object_layout": None, "kv_events": None})
        state = dict(self.server_args)
        # The scheduler's resolved args (get_context().resolved_server_args_dict()) carry what the model runner
        # set after start-up: for a hybrid model the mamba pool size (KVCacheConfigurator sizing it).
        state["max_mamba_cache_size"] = cfg["max_mamba_cache_size"]
        state.update({
            "world_size": self.args.tp_size, "startup_time": self.startup_time,
            "effective_max_running_requests_per_dp": cfg["max_running"],
            "last_gen_throughput": round(self.engine.last_gen_throughput, 2),
            "memory_usage": {"weight": cfg["weight_gb"], "kvcache": cfg["kv_gb"],
                             "startup_available": cfg["avail_gb"], "token_capacity": cfg["max_total_num_tokens"],
                             "token_capacity_swa": 0, "graph": {"decode": cfg["graph_gb"]}},
            "disaggregation_mode": "null", "decode_cuda_graph_bs": cfg["graph_bs"],
            "decode_cuda_graph_memory_gb": cfg["graph_gb"]})
        info["internal_states"] = [state]
        info["version"] = "0.5.23"
        info["frontend"] = "python"
        resp.json(200, info)

    async def flush_cache(self, req, resp):
        self.tm_loop()
        try:
            timeout = float(req.query.get("timeout", "0") or 0)
        except ValueError:
            timeout = -1
        if timeout < 0:
            raise validation_error(("query", "timeout"), "Input should be greater than or equal to 0",
                                   "greater_than_equal", req.query.get("timeout"))
        deadline = time.monotonic() + timeout
        while self.engine.busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.engine.flush():
            logs.log("Cache flushed successfully!")
            return resp.send(200, FLUSH_OK, "text/plain; charset=utf-8")
        logs.log("Cache not flushed because there are pending requests. #queue-req: %d, #running-req: %d"
                 % (len(self.engine.waiting), self.engine.num_running()))
        resp.send(400, "Flush cache failed.\n", "text/plain; charset=utf-8")

    async def metrics_route(self, req, resp):
        self.engine.update_gauges()
        resp.send(200, self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")

    # ----- /v1/loads (srt/entrypoints/v1_loads.py, LoadSnapshot in srt/managers/load_snapshot.py) -----
    def load_snapshot(self):
        """The scheduler's LoadSnapshot of DP rank 0 (SchedulerLoadInquirer.get_loads)."""
        eng, cfg = self.engine, self.cfg
        used = eng.pool_used()
        waiting = list(eng.waiting)
        hit = eng.cache_hit_rate
        uncached = 0
        for r in waiting:
            if r.prefix_len is not None:
                uncached += max(0, len(r.prompt_ids) - r.prefix_len)
            else:
                uncached += int(len(r.prompt_ids) * (1.0 - hit))
        if eng.chunked is not None:
            uncached += max(0, len(eng.chunked.prompt_ids) - eng.chunked.prefilled)
        total = used + sum(len(r.prompt_ids) for r in waiting)
        moments = eng.decode_moment_totals
        core = {
            "timestamp": time.time(), "dp_rank": 0, "num_running_reqs": len(eng.running),
            "num_waiting_reqs": len(waiting), "num_waiting_uncached_tokens": uncached, "num_used_tokens": used,
            "num_total_tokens": total, "num_active_tokens": total, "num_prealloc_ready_tokens": 0,
            "max_total_num_tokens": cfg["max_total_num_tokens"], "max_running_requests": cfg["max_running"],
            "token_usage": round(eng.usage(), 4), "gen_throughput": round(eng.last_gen_throughput, 2),
            "cache_hit_rate": round(hit, 4), "utilization": 0.0,
            "total_prefill_uncached_tokens": eng.total_prefill_uncached_tokens,
            "total_prefill_busy_us": eng.total_prefill_busy_us,
            "decode_moments": list(moments) if moments[0] > 0 else None,
        }
        sections = {
            "memory": {"weight_gb": round(cfg["weight_gb"], 3), "kv_cache_gb": round(cfg["kv_gb"], 3),
                       "graph_gb": round(cfg["graph_gb"], 3), "token_capacity": int(cfg["max_total_num_tokens"])},
            "disaggregation": {"mode": "null", "prefill_bootstrap_queue_reqs": 0, "prefill_inflight_queue_reqs": 0,
                               "decode_prealloc_queue_reqs": 0, "decode_transfer_queue_reqs": 0,
                               "decode_retracted_queue_reqs": 0, "kv_transfer_speed_gb_s": 0.0,
                               "kv_transfer_latency_ms": 0.0},
            "queues": {"waiting": len(waiting), "grammar": 0, "paused": 0, "retracted": 0, "prealloc_ready": 0},
        }
        return core, sections

    @staticmethod
    def load_to_dict(snapshot, include):
        """LoadSnapshot.to_dict: the core fields, then the sections asked for (all of them by default)."""
        core, sections = snapshot
        out = dict(core)
        if include is None or "all" in include:
            wanted = None
        else:
            bad = include - LOAD_SECTIONS
            if bad:
                raise ValueError("Invalid include sections: %r. Valid options: %r" % (bad, sorted(LOAD_SECTIONS)))
            if include == {"core"}:
                return out
            wanted = include
        for field, name in (("memory", "memory"), ("disaggregation", "disagg"), ("queues", "queues")):
            if wanted is None or name in wanted:
                out[field] = dict(sections[field])
        return out

    async def loads(self, req, resp):
        include = req.query.get("include")
        include_list = [p.strip() for p in include.split(",")] if include else None
        dp_rank = req.query.get("dp_rank")
        if dp_rank is not None:
            try:
                dp_rank = int(dp_rank)
            except ValueError:
                raise validation_error(("query", "dp_rank"), "Input should be a valid integer, unable to parse string "
                                       "as an integer", "int_parsing", dp_rank)
        self.tm_loop()
        snapshots = [] if dp_rank is not None and dp_rank != 0 else [self.load_snapshot()]
        include_set = set(include_list) if include_list else None
        try:
            dicts = [self.load_to_dict(s, include_set) for s in snapshots]
        except ValueError as e:
            # Raised outside the handler's try: FastAPI has no handler for it, Starlette answers 500.
            logs.uvicorn("ERROR", "Exception in ASGI application")
            logs.raw("Traceback (most recent call last):\n"
                     '  File "%s/srt/managers/load_snapshot.py", line 246, in to_dict\n'
                     "    raise ValueError(\nValueError: %s" % (_SGL, e))
            return resp.send(500, "Internal Server Error", "text/plain; charset=utf-8")
        if req.query.get("format") == "prometheus":
            return resp.send(200, _loads_prometheus(dicts), "text/plain; version=0.0.4; charset=utf-8")
        resp.json(200, {"timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(), "version": "0.5.23",
                        "accelerator": self.cfg["gpu"],
                        "num_accelerators": self.args.tp_size * self.args.pp_size, "loads": dicts})

    async def simple_ok(self, req, resp):
        resp.send(200, b"", None)

    async def abort_request(self, req, resp):
        resp.send(200, b"", None)

    # ----- inference -----
    def _parse_json(self, req):
        ctype = req.headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise validation_error(("header", "content-type"),
                                   "Unsupported Media Type: Only 'application/json' is allowed",
                                   "value_error", ctype)
        try:
            body = json.loads(req.body.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError) as e:
            raise validation_error(("body", 0), "JSON decode error", "json_invalid", str(e))
        if not isinstance(body, dict):
            raise validation_error(("body",), "Input should be a valid dictionary or object to extract fields from",
                                   "model_attributes_type", body)
        return body

    def _runtime_faults(self, stream):
        """Faults that hit requests once the server is Up (warm-up and health checks are exempt)."""
        if self.status != "Up":
            return None
        self.arrivals += 1
        if self.hang_after is not None and self.arrivals > self.hang_after:
            self.engine.hung = True
            return "hang"
        if self.fault == "cuda_wrong_image":
            logs.log("Scheduler hit an exception while running a batch: RuntimeError: " + CUDA_NO_KERNEL.strip())
            raise HTTPError(500, "Internal server error: " + CUDA_NO_KERNEL, "InternalServerError")
        if self.error_rate > 0 and self.error_rng.random() < self.error_rate:
            logs.log("Error in request: RuntimeError('simulated internal error (SGLANG_SIM_ERROR_RATE)')")
            raise HTTPError(500, "Internal server error: RuntimeError: simulated internal error",
                            "InternalServerError")
        return None

    def _max_tokens(self, body, prompt_len, default=None):
        v = body.get("max_completion_tokens")
        if v is None:
            v = body.get("max_tokens", default)
        return v

    def _check_lengths(self, prompt_ids, max_new):
        ctx = self.cfg["context_len"]
        n = len(prompt_ids)
        if n >= ctx:
            if self.args.allow_auto_truncate:
                del prompt_ids[:n - ctx + 1]
                n = len(prompt_ids)
            else:
                raise HTTPError(400, "The input (%d tokens) is longer than the model's context length (%d tokens)."
                                % (n, ctx), "BadRequestError")
        if max_new is not None and n + max_new > ctx:
            if self.args.allow_auto_truncate:
                return ctx - n
            raise HTTPError(400, "Requested token count exceeds the model's maximum context length of %d tokens. "
                                 "You requested a total of %d tokens: %d tokens from the input messages and %d "
                                 "tokens for the completion. Please reduce the number of tokens in the input "
                                 "messages or the completion to fit within the limit."
                            % (ctx, n + max_new, n, max_new), "BadRequestError")
        return max_new

    def _plan(self, prompt_ids, max_new, body, structured=None, reasoning=False):
        seed = body.get("seed")
        seed = _seed_of(prompt_ids, (self.seed * 7919) ^ (seed if isinstance(seed, int) else 0))
        limit = max_new if max_new is not None else max(1, self.cfg["context_len"] - len(prompt_ids))
        limit = max(1, limit)
        rcount = 0
        if structured is not None:
            pieces = tokenizer.text_to_pieces(structured)
        else:
            natural = tokenizer.natural_length(seed)
            min_tokens = body.get("min_tokens") or 0
            if isinstance(min_tokens, int):
                natural = max(natural, min_tokens)
            if body.get("ignore_eos"):
                natural = limit + 1
            pieces = []
            if reasoning:
                rcount = min(natural // 2, 48)
                pieces = tokenizer.generate_pieces(seed ^ 0xABCDEF, rcount)
            # Only the first limit + 1 pieces can reach the response (the rest is cut below, and a stop
            # string found beyond them gives the same truncation); generate_pieces(seed, m) is a prefix
            # of generate_pieces(seed, n) for m <= n, so capping the count changes nothing observable.
            pieces += tokenizer.generate_pieces(seed, min(max(1, natural - rcount), max(1, limit + 1 - rcount)))
        stops = body.get("stop")
        if isinstance(stops, str):
            stops = [stops]
        matched_stop = tokenizer.EOS_TOKEN_ID
        finish = "stop"
        if stops and structured is None:
            acc = ""
            for i, p in enumerate(pieces[rcount:], start=rcount):
                acc += p
                hit = [s for s in stops if isinstance(s, str) and s and s in acc]
                if hit:
                    s = hit[0]
                    cut = acc.index(s)
                    prev = len(acc) - len(p)
                    pieces = pieces[:i] + [p[:max(0, cut - prev)]]
                    matched_stop = s
                    break
        ids = [tokenizer.piece_id(p) for p in pieces]
        if matched_stop == tokenizer.EOS_TOKEN_ID:
            pieces = pieces + [""]
            ids = ids + [tokenizer.EOS_TOKEN_ID]
        if len(ids) > limit:
            pieces, ids = pieces[:limit], ids[:limit]
            finish, matched_stop = "length", None
        return Plan(pieces, ids, finish, matched_stop, min(rcount, len(ids)))

    async def _run(self, req, resp, prompt_ids, plan, stream, make_sink, structured=False):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        rid = new_rid()
        sink = make_sink(rid, fut) if stream else NonStreamSink(fut)
        r = Req(rid, prompt_ids, plan.ids, plan.pieces, plan.finish_reason, plan.matched_stop, sink,
                is_stream=stream, structured=structured, user=True)
        if self.args.log_requests:
            logs.log("Receive: obj=GenerateReqInput(rid='%s', input_ids_len=%d, stream=%s)"
                     % (rid, len(prompt_ids), stream))
        self.tm_loop()
        self.rid_to_state[rid] = r
        self.engine.submit(r)
        try:
            await fut
        except asyncio.CancelledError:
            self.engine.abort(r)
            raise
        finally:
            self.rid_to_state.pop(rid, None)
        if self.args.log_requests:
            logs.log("Finish: obj=GenerateReqInput(rid='%s') out={'text': %r, 'meta_info': {'prompt_tokens': %d, "
                     "'completion_tokens': %d, 'cached_tokens': %d}}" % (
                         rid, "".join(r.out_pieces[:r.out_pos])[:200], len(prompt_ids), r.out_pos,
                         r.prefix_len or 0))
        return r

    def _response_format(self, body):
        """(schema or None, is_structured); raises the real validation errors."""
        rf = body.get("response_format")
        if rf is None:
            return None, False
        if not isinstance(rf, dict):
            raise validation_error(("body", "response_format"), "Input should be a valid dictionary", "dict_type", rf)
        t = rf.get("type")
        allowed = ("text", "json_object", "json_schema", "structural_tag")
        if self.fault == "json_schema_unsupported":
            allowed = ("text", "json_object")
        if t not in allowed:
            raise bad_request(
                "1 validation error for ChatCompletionRequest\nresponse_format.type\n  Input should be %s "
                "[type=literal_error, input_value=%r, input_type=%s]"
                % (" or ".join(", ".join("'%s'" % a for a in allowed).rsplit(", ", 1)), t, type(t).__name__))
        if t == "text" or t == "structural_tag":
            return None, False
        if t == "json_object":
            return {"type": "object"}, True
        js = rf.get("json_schema")
        if js is None and "schema" in rf:
            js = {"name": rf.get("name", "schema"), "schema": rf["schema"]}
        if not isinstance(js, dict):
            raise validation_error(("body", "response_format", "json_schema"), "Field required", "missing", rf)
        if "name" not in js:
            raise validation_error(("body", "response_format", "json_schema", "name"), "Field required", "missing",
                                   js)
        sch = js.get("schema", js.get("schema_"))
        if sch is None:
            raise HTTPError(400, "schema_ is required for json_schema response format request.", "BadRequest")
        if not isinstance(sch, dict):
            raise validation_error(("body", "response_format", "json_schema", "schema"),
                                   "Input should be a valid dictionary", "dict_type", sch)
        return sch, True

    def _structured_text(self, schema, prompt_ids):
        """The JSON a grammar-constrained decode of `schema` yields (schema-violating under SGLANG_SIM_INVALID_JSON)."""
        value = schemas.instance(schema, _seed_of(prompt_ids, self.seed))
        if self.invalid_json:
            value = schemas.violate(value, schema)
        return json.dumps(value, ensure_ascii=False)

    async def _grammar_error(self, resp, stream, message):
        logs.log("Failed to compile json_schema grammar: %s, self.rid='%s'" % (message, new_rid()))
        msg = "Failed to compile json_schema grammar: %s" % message
        if stream:
            resp.start_stream()
            resp.write("data: " + dumps({"error": {"object": "error", "message": msg, "type": "BAD_REQUEST",
                                                   "param": None, "code": 400}}) + "\n\n")
            resp.write("data: [DONE]\n\n")
            resp.end_stream()
            return
        raise HTTPError(400, msg, "BadRequestError")

    async def chat(self, req, resp):
        body = self._parse_json(req)
        if "messages" not in body:
            raise validation_error(("body", "messages"), "Field required", "missing", body)
        messages = body["messages"]
        if not isinstance(messages, list):
            raise validation_error(("body", "messages"), "Input should be a valid list", "list_type", messages)
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or "role" not in m:
                raise validation_error(("body", "messages", i), "Field required", "missing", m)
        stream = bool(body.get("stream", False))
        model = body.get("model", "default")
        sch, structured = self._response_format(body)
        self._lora_check(model)
        if not messages:
            raise HTTPError(400, "Messages cannot be empty.", "BadRequestError")
        max_new = self._max_tokens(body, 0)
        if max_new is not None and (not isinstance(max_new, int) or isinstance(max_new, bool)):
            raise validation_error(("body", "max_tokens"), "Input should be a valid integer", "int_type", max_new)
        if max_new is not None and self.args.context_length and max_new > self.cfg["context_len"] and \
                not self.args.allow_auto_truncate:
            raise HTTPError(400, "max_completion_tokens is too large: %d.This model supports at most %d completion "
                                 "tokens." % (max_new, self.cfg["context_len"]), "BadRequestError")
        if max_new is not None and max_new < 1:
            max_new = 1
        kwargs = body.get("chat_template_kwargs") or {}
        prompt = tokenizer.render(self.cfg.get("chat_template", "chatml"), messages,
                                  add_generation_prompt=not body.get("continue_final_message"),
                                  continue_final_message=bool(body.get("continue_final_message")),
                                  chat_template_kwargs=kwargs if isinstance(kwargs, dict) else {})
        prompt_ids = tokenizer.encode(prompt)
        max_new = self._check_lengths(prompt_ids, max_new)
        structured_text = None
        if sch is not None:
            try:
                schemas.compile_schema(sch)
            except schemas.GrammarError as e:
                return await self._grammar_error(resp, stream, str(e))
            structured_text = self._structured_text(sch, prompt_ids)
        if self._runtime_faults(stream) == "hang":
            await asyncio.get_running_loop().create_future()
        reasoning = bool(self.args.reasoning_parser) and sch is None and kwargs.get("enable_thinking", True) \
            is not False and body.get("separate_reasoning", True)
        plan = self._plan(prompt_ids, max_new, body, structured_text, reasoning)
        so = body.get("stream_options") or {}
        include_usage = bool(so.get("include_usage")) or self.args.stream_response_default_include_usage
        created = int(time.time())

        def make_sink(rid, fut):
            return ChatStreamSink(self, resp, rid, created, model, include_usage, plan.reasoning_count, fut)

        r = await self._run(req, resp, prompt_ids, plan, stream, make_sink, structured)
        if stream:
            return
        rc = plan.reasoning_count
        content = "".join(r.out_pieces[rc:r.out_pos])
        reasoning_content = "".join(r.out_pieces[:min(rc, r.out_pos)]) if rc else None
        out = {"id": r.rid, "object": "chat.completion", "created": created, "model": model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                                                    "reasoning_content": reasoning_content},
                            "logprobs": None, "finish_reason": r.finish_reason, "matched_stop": r.matched_stop}],
               "usage": fmt_usage(len(prompt_ids), r.out_pos, r.prefix_len or 0, self.args.enable_cache_report,
                                  min(rc, r.out_pos)),
               "metadata": {"weight_version": self.args.weight_version}}
        if body.get("return_cached_tokens_details"):
            out["sglext"] = {"cached_tokens_details": {"device": r.prefix_len or 0, "host": 0}}
        resp.json(200, out)

    def _lora_check(self, model):
        if isinstance(model, str) and ":" in model and model != self.served:
            adapter = model.split(":", 1)[1]
            raise HTTPError(400, "LoRA adapter '%s' was requested, but LoRA is not enabled. Please launch the server "
                                 "with --enable-lora flag and preload adapters using --lora-paths or "
                                 "/load_lora_adapter endpoint." % adapter, "BadRequest")

    async def completions(self, req, resp):
        body = self._parse_json(req)
        if "prompt" not in body:
            raise validation_error(("body", "prompt"), "Field required", "missing", body)
        prompt = body["prompt"]
        if isinstance(prompt, list) and prompt and all(isinstance(x, int) for x in prompt):
            prompt_ids = list(prompt)
        else:
            if isinstance(prompt, list):
                prompt = prompt[0] if prompt else ""
            if not isinstance(prompt, str):
                raise validation_error(("body", "prompt"), "Input should be a valid string", "string_type", prompt)
            prompt_ids = tokenizer.encode(prompt) if prompt else []
        if not prompt_ids:
            raise HTTPError(400, "Prompt cannot be empty", "BadRequestError")
        model = body.get("model", "default")
        stream = bool(body.get("stream", False))
        self._lora_check(model)
        max_new = body.get("max_tokens", 16)
        if max_new is not None and (not isinstance(max_new, int) or isinstance(max_new, bool) or max_new < 1):
            raise HTTPError(400, "max_tokens must be positive.", "BadRequestError")
        max_new = self._check_lengths(prompt_ids, max_new)
        sch, structured = self._response_format(body)
        structured_text = None
        if sch is not None:
            try:
                schemas.compile_schema(sch)
            except schemas.GrammarError as e:
                return await self._grammar_error(resp, stream, str(e))
            structured_text = self._structured_text(sch, prompt_ids)
        if self._runtime_faults(stream) == "hang":
            await asyncio.get_running_loop().create_future()
        plan = self._plan(prompt_ids, max_new, body, structured_text)
        so = body.get("stream_options") or {}
        include_usage = bool(so.get("include_usage")) or self.args.stream_response_default_include_usage
        created = int(time.time())

        def make_sink(rid, fut):
            return ChatStreamSink(self, resp, rid, created, model, include_usage, 0, fut, obj="completion")

        r = await self._run(req, resp, prompt_ids, plan, stream, make_sink, structured)
        if stream:
            return
        out = {"id": r.rid, "object": "text_completion", "created": created, "model": model,
               "choices": [{"index": 0, "text": "".join(r.out_pieces[:r.out_pos]), "logprobs": None,
                            "finish_reason": r.finish_reason, "matched_stop": r.matched_stop}],
               "usage": fmt_usage(len(prompt_ids), r.out_pos, r.prefix_len or 0, self.args.enable_cache_report),
               "metadata": {"weight_version": self.args.weight_version}}
        resp.json(200, out)

    async def generate(self, req, resp):
        body = self._parse_json(req)
        if body.get("input_ids") is not None:
            ids = body["input_ids"]
            prompt_ids = list(ids[0] if ids and isinstance(ids[0], list) else ids)
        else:
            text = body.get("text")
            if isinstance(text, list):
                text = text[0] if text else ""
            if not isinstance(text, str) or not text:
                raise HTTPError(400, "Either text or input_ids should be provided.", "BadRequestError")
            prompt_ids = tokenizer.encode(text)
        sp = body.get("sampling_params") or {}
        max_new = sp.get("max_new_tokens", 128)
        max_new = self._check_lengths(prompt_ids, max_new)
        stream = bool(body.get("stream", False))
        sch = None
        if sp.get("json_schema") is not None:
            try:
                sch = json.loads(sp["json_schema"]) if isinstance(sp["json_schema"], str) else sp["json_schema"]
                schemas.compile_schema(sch)
            except (ValueError, schemas.GrammarError) as e:
                return await self._grammar_error(resp, stream, str(e))
        structured_text = self._structured_text(sch, prompt_ids) if sch is not None else None
        if self._runtime_faults(stream) == "hang":
            await asyncio.get_running_loop().create_future()
        plan = self._plan(prompt_ids, max_new, dict(sp, seed=body.get("seed")), structured_text)
        t0 = time.monotonic()

        def make_sink(rid, fut):
            return GenerateStreamSink(self, resp, rid, fut)

        r = await self._run(req, resp, prompt_ids, plan, stream, make_sink, sch is not None)
        if stream:
            return
        fr = ({"type": "length", "length": r.out_pos} if r.finish_reason == "length"
              else {"type": "stop", "matched": r.matched_stop})
        resp.json(200, {"text": "".join(r.out_pieces[:r.out_pos]), "output_ids": r.out_ids[:r.out_pos],
                        "meta_info": {"id": r.rid, "finish_reason": fr, "prompt_tokens": len(prompt_ids),
                                      "weight_version": self.args.weight_version, "total_retractions": 0,
                                      "completion_tokens": r.out_pos, "cached_tokens": r.prefix_len or 0,
                                      "e2e_latency": time.monotonic() - t0}})


LOAD_SECTIONS = frozenset({"core", "memory", "spec", "lora", "disagg", "queues", "all"})
_SGL = "/sgl-workspace/sglang/python/sglang"


def _loads_prometheus(loads):
    """`/v1/loads?format=prometheus`: a gauge per numeric field (sections prefixed), labelled by dp_rank."""
    prefixes = {"speculative": "spec", "disaggregation": "disagg"}
    samples = {}
    for load in loads:
        load = dict(load)
        rank = load.pop("dp_rank")
        for key, value in load.items():
            if isinstance(value, dict):
                prefix = prefixes.get(key, key)
                for sub, v in value.items():
                    if isinstance(v, (int, float)):
                        samples.setdefault("sglang_%s_%s" % (prefix, sub), []).append((rank, v))
            elif isinstance(value, (int, float)):
                samples.setdefault("sglang_%s" % key, []).append((rank, value))
    lines = []
    for name, vals in samples.items():
        lines.append("# TYPE %s gauge" % name)
        for rank, v in vals:
            lines.append('%s{dp_rank="%s"} %s' % (name, rank, v))
    return "\n".join(lines) + "\n"


def _int_env(name):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else None


def _endpoint(path):
    if path.startswith("/v1/models/"):
        return "/v1/models/{model}"
    return path if path in ROUTES else "unknown"


ROUTES = {
    "/health": (("GET",), "health"),
    "/health_generate": (("GET",), "health"),
    "/ready": (("GET",), "ready"),
    "/v1/models": (("GET",), "models"),
    "/v1/models/{model}": (("GET",), "model_one"),
    "/model_info": (("GET",), "model_info"),
    "/get_model_info": (("GET",), "model_info"),
    "/server_info": (("GET",), "server_info"),
    "/get_server_info": (("GET",), "server_info"),
    "/flush_cache": (("GET", "POST"), "flush_cache"),
    "/metrics": (("GET",), "metrics_route"),
    "/generate": (("POST", "PUT"), "generate"),
    "/v1/chat/completions": (("POST",), "chat"),
    "/v1/completions": (("POST",), "completions"),
    "/freeze_gc": (("GET", "POST"), "simple_ok"),
    "/ping": (("GET",), "simple_ok"),
    "/abort_request": (("POST",), "abort_request"),
    "/v1/loads": (("GET",), "loads"),
}
