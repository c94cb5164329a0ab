"""LLM rating: the local rater with the real SmolLM2, and the chat rater against a local HTTP server."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from softtopic.metrics.rating import ChatRater, LocalRater, RatingEndpointError, parse_rating, rating_prompt

TOPICS = [["football", "goal", "match", "team", "player"], ["bank", "violin", "cloud", "sandwich", "tax"]]


def test_prompt_states_the_scale_and_the_words():
    prompt = rating_prompt(["apple", "pear"])
    assert "1 = not very related" in prompt and "3 = very related" in prompt
    assert prompt.endswith("Words: apple, pear\n\nRating:")
    assert parse_rating(" 3.") == 3.0 and parse_rating("two") != parse_rating("two")  # NaN


def test_local_rater_is_deterministic_and_in_range(smollm2):
    model, tokenizer = smollm2
    rater = LocalRater(model, tokenizer)
    first, second = rater.score(TOPICS), rater.score(TOPICS)
    assert first == second
    probabilities = np.asarray(first["llm_rating_probabilities"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert all(r in (1.0, 2.0, 3.0) for r in first["llm_rating_per_topic"])
    assert 1.0 <= first["llm_rating_expected"] <= 3.0
    assert first["llm_rating_per_topic"] == [float(np.argmax(p) + 1) for p in probabilities]
    assert all(len(ids) >= 1 for ids in rater.answer_ids) and rater.answer_ids[0] != rater.answer_ids[2]


class Endpoint:
    """A tiny OpenAI-style server on 127.0.0.1: replies from `answers`, failing first `failures` times."""

    def __init__(self, answers, failures=0, status=500):
        self.requests, self.failures, self.answers = [], failures, list(answers)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, self.headers.get("Authorization"), body))
                if outer.failures > 0:
                    outer.failures -= 1
                    self.send_response(status)
                    self.end_headers()
                    return
                reply = json.dumps({"choices": [{"message": {"content": outer.answers.pop(0)}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint(request):
    server = Endpoint(**request.param)
    yield server
    server.close()


@pytest.mark.parametrize("endpoint", [{"answers": ["3", "Rating: 1"]}], indirect=True)
def test_chat_rater_asks_once_per_topic_and_caches(endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    rater = ChatRater(base_url=endpoint.url, model="gpt-4o", cache=tmp_path / "cache.json", backoff_s=0)
    assert rater.score(TOPICS) == {"llm_rating": 2.0, "llm_rating_per_topic": [3.0, 1.0]}
    path, auth, body = endpoint.requests[0]
    assert path == "/v1/chat/completions" and auth == "Bearer secret"
    assert body["temperature"] == 0 and body["model"] == "gpt-4o"
    assert body["messages"][0]["content"] == rating_prompt(TOPICS[0])
    again = ChatRater(base_url=endpoint.url, model="gpt-4o", cache=tmp_path / "cache.json", backoff_s=0)
    assert again.rate(TOPICS) == [3.0, 1.0] and len(endpoint.requests) == 2  # answered from the cache


@pytest.mark.parametrize("endpoint", [{"answers": ["2"], "failures": 2}], indirect=True)
def test_chat_rater_retries_server_errors(endpoint):
    rater = ChatRater(base_url=endpoint.url, model="m", api_key="", retries=2, backoff_s=0)
    assert rater.rate(TOPICS[:1]) == [2.0] and len(endpoint.requests) == 3
    assert endpoint.requests[0][1] is None  # no key, no Authorization header


@pytest.mark.parametrize("endpoint", [{"answers": [], "failures": 5, "status": 401}], indirect=True)
def test_chat_rater_does_not_retry_client_errors(endpoint):
    rater = ChatRater(base_url=endpoint.url, model="m", api_key="bad", retries=3, backoff_s=0)
    with pytest.raises(RatingEndpointError, match="HTTP 401"):
        rater.rate(TOPICS[:1])
    assert len(endpoint.requests) == 1


def test_unreachable_endpoint_is_a_clear_error():
    server = Endpoint([])
    url = server.url
    server.close()  # nothing listens on that port any more
    rater = ChatRater(base_url=url, model="m", api_key="", retries=1, backoff_s=0, timeout_s=2)
    with pytest.raises(RatingEndpointError, match=r"127\.0\.0\.1.*failed.*metrics\.rating\.base_url"):
        rater.rate(TOPICS[:1])
