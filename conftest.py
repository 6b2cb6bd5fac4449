# The harness's pytest plugin (options --device/--inject/--realtime, the `dut` fixture, Allure
# defaults) for every pytest run in this repository: testplans/ and tests/.
pytest_plugins = ["harness.pytest_plugin"]
