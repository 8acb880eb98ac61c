"""A Groq stand-in for tests, demos and benchmarks, speaking Groq's wire format.

>>> from teamgate.http.serving import ServerThread
>>> sim = create_simulator(SimulatorConfig(keys={"gsk_test"}))
>>> with ServerThread(sim.app) as url:  # doctest: +SKIP
...     groq.Groq(api_key="gsk_test", base_url=url).chat.completions.create(...)
>>> sim.state.request_count("gsk_test")  # doctest: +SKIP
1
"""

from teamgate.simulator.app import CHAT_PATH, MODELS_PATH, Simulator, create_simulator
from teamgate.simulator.completions import completion_text, count_prompt_tokens
from teamgate.simulator.config import SimulatorConfig
from teamgate.simulator.faults import FaultPlan, FaultSpecError, parse_fault_spec
from teamgate.simulator.state import RecordedRequest, SimulatorState, key_fingerprint

__all__ = [
    "CHAT_PATH",
    "MODELS_PATH",
    "FaultPlan",
    "FaultSpecError",
    "RecordedRequest",
    "Simulator",
    "SimulatorConfig",
    "SimulatorState",
    "completion_text",
    "count_prompt_tokens",
    "create_simulator",
    "key_fingerprint",
    "parse_fault_spec",
]
