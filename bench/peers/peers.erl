%% SPDX-License-Identifier: MIT
%% bench/peers/peers.erl - the workloads of bench/peers/run.sh written for
%% Erlang/OTP, in one VM (processes, not OS processes): ping-pong round trip,
%% one-way throughput, supervisor restart, spawn rate.  Prints one line per
%% figure, "peer: erlang NAME VALUE UNIT", for run.sh to put beside ours.
%%
%%   erl -noshell -pa DIR -eval 'peers:main(["SCALE"])' -s init stop
-module(peers).
-export([main/1, pong/0, consumer/3, child_init/0]).
-behaviour(supervisor).
-export([init/1]).

-define(RTT_BATCH, 64).

main([ScaleS]) ->
    Scale = list_to_float_any(ScaleS),
    %% The restart rounds would log a supervisor report each.
    logger:set_primary_config(level, none),
    io:format("# erlang ~s, ~p schedulers online~n",
              [erlang:system_info(otp_release), erlang:system_info(schedulers_online)]),
    pingpong(max(2000, round(200000 * Scale))),
    throughput(max(100000, round(5000000 * Scale))),
    restart(max(50, round(1000 * Scale))),
    spawn_rate(max(10000, round(200000 * Scale))),
    ok.

list_to_float_any(S) ->
    try list_to_float(S) catch error:badarg -> float(list_to_integer(S)) end.

now_ns() -> erlang:monotonic_time(nanosecond).

median(L) -> lists:nth((length(L) + 1) div 2, lists:sort(L)).

%% ---- ping-pong: median of 64-round-trip batch means, as bench-core ------
pong() ->
    receive
        {ping, From, N} -> From ! {pong, N}, pong();
        stop -> ok
    end.

pingpong(N) ->
    P = spawn(fun pong/0),
    warm(P, N div 10),
    Batches = [batch(P, ?RTT_BATCH) || _ <- lists:seq(1, max(1, N div ?RTT_BATCH))],
    P ! stop,
    io:format("peer: erlang pingpong_rtt ~.1f ns~n", [median(Batches)]).

warm(_, 0) -> ok;
warm(P, K) -> P ! {ping, self(), K}, receive {pong, K} -> warm(P, K - 1) end.

batch(P, K) ->
    T0 = now_ns(),
    warm(P, K),
    (now_ns() - T0) / K.

%% ---- one-way throughput: the consumer's rate over N messages ------------
consumer(Parent, N, T0) ->
    receive
        {blob, 0, _, _, _, _, _, _, _} -> consumer(Parent, N - 1, now_ns());
        {blob, _, _, _, _, _, _, _, _} when N =:= 1 -> Parent ! {done, now_ns() - T0};
        {blob, _, _, _, _, _, _, _, _} -> consumer(Parent, N - 1, T0)
    end.

produce(_, N, N) -> ok;
produce(C, I, N) -> C ! {blob, I, I + 1, I + 2, I + 3, I + 4, I + 5, I + 6, I + 7},
                    produce(C, I + 1, N).

throughput(N) ->
    Self = self(),
    C = spawn(fun() -> consumer(Self, N, 0) end),
    spawn(fun() -> produce(C, 0, N) end),
    receive {done, Dt} -> ok end,
    io:format("peer: erlang throughput_1to1 ~.1f msgs/s~n", [(N - 1) * 1.0e9 / Dt]).

%% ---- supervisor restart: kill the child, time until its successor answers
init(child) ->
    {ok, {#{strategy => one_for_one, intensity => 1000000, period => 1},
          [#{id => c, start => {peers, child_init, []}}]}}.

child_init() ->
    Pid = spawn_link(fun() -> register(peers_child, self()), child_loop() end),
    {ok, Pid}.

child_loop() ->
    receive {ping, From} -> From ! pong, child_loop() end.

wait_new(Old) ->
    case whereis(peers_child) of
        Pid when is_pid(Pid), Pid =/= Old -> Pid;
        _ -> erlang:yield(), wait_new(Old)
    end.

restart(Rounds) ->
    {ok, Sup} = supervisor:start_link(?MODULE, child),
    unlink(Sup),
    Samples = [restart_once() || _ <- lists:seq(1, Rounds)],
    exit(Sup, shutdown),
    io:format("peer: erlang restart_p50 ~.1f us~n", [median(Samples) / 1000]).

restart_once() ->
    Old = wait_new(undefined),
    T0 = now_ns(),
    exit(Old, kill),
    New = wait_new(Old),
    New ! {ping, self()},
    receive pong -> ok end,
    now_ns() - T0.

%% ---- spawn rate: spawn + the process runs + it exits, in batches --------
spawn_rate(N) ->
    Self = self(),
    T0 = now_ns(),
    spawn_batches(Self, N),
    Dt = now_ns() - T0,
    io:format("peer: erlang spawn_rate ~.1f /s~n", [N * 1.0e9 / Dt]).

spawn_batches(_, 0) -> ok;
spawn_batches(Self, N) ->
    K = min(N, 1000),
    [spawn(fun() -> Self ! started end) || _ <- lists:seq(1, K)],
    [receive started -> ok end || _ <- lists:seq(1, K)],
    spawn_batches(Self, N - K).
