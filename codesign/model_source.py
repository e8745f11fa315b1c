"""Users' own models: a factory named on the command line or in a recipe, and the record that
rebuilds it.

``--model FILE.py:FUNCTION`` (a Python file) or ``--model package.module:FUNCTION`` (an importable
module) names a function that returns an ``nn.Module``; ``--model-arg key=value`` (repeatable,
values parsed as YAML: ``3``, ``0.5``, ``true``, ``[3, 32, 32]``) are its keyword arguments. A
factory that has parameters named ``in_shape`` or ``num_classes`` receives the dataset's unless
they are given. Every model built here carries ``codesign_spec`` — the factory reference (a file
path made absolute), its keyword arguments, the input shape and the number of outputs — which
model files and checkpoints store, so compact, export, simulate and resume rebuild the model from
the file alone.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence, Tuple

from .errors import ConfigError

if TYPE_CHECKING:                                  # torch loads only where a model is built or read
    import torch
    import torch.nn as nn

_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def is_factory(text: Optional[str]) -> bool:
    """'file.py:fn' or 'package.module:fn' (as opposed to a zoo name)."""
    if not text or ":" not in str(text):
        return False
    where, _, fn = str(text).rpartition(":")
    return bool(fn.isidentifier() and (where.endswith(".py") or _MODULE.match(where)))


def parse_model_args(items: Sequence[str]) -> Dict[str, Any]:
    """['width=16', 'in_shape=[3, 32, 32]'] → {'width': 16, 'in_shape': [3, 32, 32]} (YAML values); one key
    given twice with two values is an error (the same value twice is fine)."""
    import yaml

    out: Dict[str, Any] = {}
    shown: Dict[str, str] = {}
    for text in items:
        key, eq, raw = text.partition("=")
        key = key.strip()
        if not eq or not key.isidentifier():
            raise ConfigError(f"--model-arg expects KEY=VALUE with a Python identifier as key (e.g. "
                              f"channels=16), got '{text}'")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        if key in out and out[key] != value:
            raise ConfigError(f"--model-arg {key} given twice ({shown[key]} and {raw.strip()}); give it once")
        out[key], shown[key] = value, raw.strip()
    return out


@dataclass(frozen=True)
class ModelFactory:
    """A function returning an nn.Module and the keyword arguments to call it with."""

    ref: str                                        # 'path/to/file.py:fn' (absolute) or 'pkg.mod:fn'
    kwargs: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, kwargs: Optional[Dict[str, Any]] = None) -> "ModelFactory":
        if not is_factory(text):
            raise ConfigError(f"'{text}' is not a model factory; write FILE.py:FUNCTION or package.module:FUNCTION")
        where, _, fn = text.rpartition(":")
        if where.endswith(".py"):
            path = Path(where).expanduser()
            if not path.is_file():
                raise ConfigError(f"model file not found: {where}")
            where = str(path.resolve())
        return cls(f"{where}:{fn}", dict(kwargs or {}))

    @property
    def name(self) -> str:
        """Short display name: 'file.py:fn' or 'package.module:fn'."""
        where, _, fn = self.ref.rpartition(":")
        return f"{Path(where).name}:{fn}" if where.endswith(".py") else self.ref

    def function(self) -> Callable[..., Any]:
        where, _, fn = self.ref.rpartition(":")
        module = _load_file(where) if where.endswith(".py") else _import(where)
        factory = getattr(module, fn, None)
        if not callable(factory):
            defined = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
            listed = ", ".join(defined[:12]) or "nothing callable"
            raise ConfigError(f"{where} has no function '{fn}'; it defines: {listed}")
        return factory

    def with_data(self, in_shape: Optional[Sequence[int]], num_classes: Optional[int]) -> "ModelFactory":
        """The factory with ``in_shape``/``num_classes`` filled in where it takes them and they are not given."""
        params = _parameters(self.function())
        kwargs = dict(self.kwargs)
        for key, value in (("in_shape", in_shape), ("num_classes", num_classes)):
            if value is not None and key in params and key not in kwargs:
                kwargs[key] = list(value) if key == "in_shape" else int(value)
        return ModelFactory(self.ref, kwargs)

    def default(self, key: str) -> Any:
        """The factory's default for parameter ``key`` (None if it has none), or the given value."""
        if key in self.kwargs:
            return self.kwargs[key]
        param = _parameters(self.function()).get(key)
        return None if param is None or param.default is inspect.Parameter.empty else param.default

    def build(self, in_shape: Optional[Sequence[int]] = None) -> nn.Module:
        """Call the factory; the model gets its ``codesign_spec`` (``in_shape``: given, the
        factory's ``in_shape`` argument, or unknown until a dataset or --input-shape gives it)."""
        import torch.nn as nn

        factory = self.function()
        try:
            model = factory(**self.kwargs)
        except TypeError as err:
            raise ConfigError(f"{self.name}({_call_text(self.kwargs)}) failed: {err}; check --model-arg "
                              f"(model.args in a recipe or sweep spec)") from None
        except Exception as err:        # the user's own code failed (e.g. a negative width): theirs to fix, said in one line
            raise ConfigError(f"{self.name}({_call_text(self.kwargs)}) failed: {type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''}; check --model-arg (model.args in a recipe or "
                              f"sweep spec) or the factory") from None
        if not isinstance(model, nn.Module):
            raise ConfigError(f"{self.name} returned a {type(model).__name__}, not a torch.nn.Module")
        check_finite_weights(model, f"{self.name}: ", "check the factory")
        shape = in_shape if in_shape is not None else self.default("in_shape")
        model.codesign_spec = factory_spec(self, model, shape)
        return model


def model_label(model: nn.Module) -> str:
    """Where a model's class is defined, as a user would name it: ``nets.py:Bad`` (its file and class), or the
    class alone where no file is known."""
    cls = type(model)
    try:
        file = inspect.getsourcefile(cls)
    except (TypeError, OSError):
        file = None
    name = cls.__qualname__.rpartition("<locals>.")[2]          # a class defined in a function: its own name
    return f"{Path(file).name}:{name}" if file else name


def first_nonfinite(state: Dict[str, Any]) -> Optional[str]:
    """The name of the first floating-point tensor in ``state`` holding NaN or inf, else None."""
    import torch

    return next((key for key, t in state.items() if isinstance(t, torch.Tensor) and t.is_floating_point()
                 and not bool(torch.isfinite(t).all())), None)


def check_finite_weights(model: "nn.Module | Dict[str, Any]", where: str, fix: str) -> None:
    """The one rule for every model source (a factory, a pickled module or state_dict, a module passed in;
    model files: :func:`codesign.checkpoint.check_contents`): NaN/inf weights (of ``model``, a module or a
    state_dict) are a one-line error naming the tensor, before anything runs the model (whose ranges, losses
    and estimates would be NaN)."""
    name = first_nonfinite(model if isinstance(model, dict) else model.state_dict())
    if name is not None:
        raise ConfigError(f"{where}the model's weights are NaN/inf in {name}; {fix}")


def factory_spec(factory: ModelFactory, model: nn.Module, in_shape: Optional[Sequence[int]]) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"name": factory.name, "factory": factory.ref, "kwargs": dict(factory.kwargs)}
    if in_shape is not None:
        spec["in_shape"] = [int(d) for d in in_shape]
        spec["num_classes"] = output_size(model, spec["in_shape"], factory.name)
    return spec


TRIAL_BATCH = 2      # the trial run's batch: training, calibration and C simulation all run batches


def output_size(model: nn.Module, in_shape: Sequence[int], what: Optional[str] = None) -> int:
    """Features of the model's output per sample of ``in_shape``: the one trial run of a user's model, wherever it
    comes from (a factory, a pickled module, a state_dict), before any command uses it. The model must be float32
    (:func:`check_float32`) and run on a batch of ``TRIAL_BATCH`` zeros (eval mode, no statistics change) into an
    output whose first dimension is that batch; otherwise a one-line error says what is wrong and how to fix it.
    ``what``: how messages name the model (default: its recorded name, else its class)."""
    import torch

    what = what or (getattr(model, "codesign_spec", None) or {}).get("name") or type(model).__name__
    check_float32(model, what)
    shape = tuple(int(d) for d in in_shape)
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out, err = _trial(model, (TRIAL_BATCH, *shape))
            if err is not None:
                one, err_one = _trial(model, (1, *shape))
                if err_one is not None:
                    raise ConfigError(f"{what} does not run on inputs of shape {shape} ({err_one}); check the input "
                                      f"shape (--input-shape; in train, the dataset's or data.options.in_shape)")
                raise ConfigError(f"{what} runs on one input but not on a batch of {TRIAL_BATCH} inputs of shape "
                                  f"{shape} ({err}), as training and export run it: its forward() must keep the "
                                  f"batch dimension, e.g. flatten with x.flatten(1) or x.view(x.size(0), -1), "
                                  f"not x.view(1, -1)")
    finally:
        model.train(training)
    if not isinstance(out, torch.Tensor):
        raise ConfigError(f"{what} returns a {type(out).__name__}; codesign needs a model with one output tensor")
    if out.dim() == 0 or out.shape[0] != TRIAL_BATCH:
        raise ConfigError(f"{what} returns shape {tuple(out.shape)} for a batch of {TRIAL_BATCH} inputs; its output "
                          f"must keep the batch as the first dimension, one row per input (check its forward(): "
                          f"x.flatten(1), not x.view(-1); no sum or mean over dimension 0)")
    return int(out[0].numel())


def _trial(model: nn.Module, shape: Tuple[int, ...]) -> Tuple[Any, Optional[str]]:
    """(the model's output on float32 zeros of ``shape``, None) or (None, the first line of what it raised)."""
    import torch

    try:
        return model(torch.zeros(*shape)), None
    except Exception as err:  # the user's forward can raise anything
        return None, (str(err).strip().splitlines() or [type(err).__name__])[0]


def check_float32(model: nn.Module, what: str) -> None:
    """Every floating-point parameter and buffer is float32, the type of codesign's data, training and export
    (a float64 or float16 layer fails on the first batch); else a one-line error naming the layer."""
    import torch

    tensors = [*model.named_parameters(), *model.named_buffers()]
    name, dtype = next(((n, t.dtype) for n, t in tensors if t.is_floating_point() and t.dtype != torch.float32),
                       (None, None))
    if name is None:
        return
    layer = name.rpartition(".")[0]
    kind = type(model.get_submodule(layer)).__name__
    where = f"layer '{layer}' ({kind})" if layer else f"its tensor '{name}'"
    raise ConfigError(f"{what}: {where} is {str(dtype).replace('torch.', '')}; codesign trains and exports float32 "
                      f"models: call model.float() on it (in a factory, return model.float()), or drop the layer's "
                      f"dtype= argument")


def module_spec(model: nn.Module, in_shape: Sequence[int], num_classes: Optional[int] = None) -> Dict[str, Any]:
    """The spec of a module built by hand (no zoo name, no factory): model files store the module
    itself (pickled), so its class must be importable where the file is loaded."""
    return {"name": type(model).__name__, "pickled": True, "in_shape": [int(d) for d in in_shape],
            "num_classes": int(num_classes) if num_classes is not None else output_size(model, in_shape)}


def spec_of(model: nn.Module, in_shape: Optional[Sequence[int]] = None,
            num_classes: Optional[int] = None) -> Dict[str, Any]:
    """The model's spec (zoo, factory or pickled module) for inputs of ``in_shape`` (default: the
    shape the spec records; an error when neither says it); ``num_classes``, when known, spares
    a hand-built module's trial forward pass."""
    spec = dict(getattr(model, "codesign_spec", None) or {})
    if in_shape is None:
        if spec.get("in_shape") is None:
            raise ConfigError(f"the input shape of {type(model).__name__} is unknown; pass in_shape=(C, H, W) "
                              f"(CLI: --input-shape C,H,W) or example inputs")
        return spec
    if list(spec.get("in_shape") or []) == [int(d) for d in in_shape]:
        return spec
    if "factory" in spec:
        return factory_spec(ModelFactory(spec["factory"], spec.get("kwargs", {})), model, in_shape)
    return module_spec(model, in_shape, num_classes)


def unknown_input_shape(what: str, model: Optional[nn.Module] = None, dataset: bool = False) -> ConfigError:
    """The error for a model whose input shape nothing records or gives (every command says it alike):
    ``what`` names it as the user gave it (FILE.py:FUNCTION, the model in FILE); the shape's form is read
    from its first layer (C,L for Conv1d, not C,H,W); ``dataset``: the command also takes one from --dataset."""
    import torch.nn as nn

    first = next((m for m in (model.modules() if model is not None else ()) if isinstance(m, (nn.Conv1d, nn.Conv2d,
                                                                                              nn.Linear))), None)
    form = ("C,L (channels, length)" if isinstance(first, nn.Conv1d) else
            "N (its input features) or C,H,W" if isinstance(first, nn.Linear) else "C,H,W")
    return ConfigError(f"the input shape of {what} is unknown; give --input-shape {form}, one sample's shape"
                       f"{' (or --dataset)' if dataset else ''}")


def parse_input_shape(text: Optional[str]) -> Optional[Tuple[int, ...]]:
    """'3,32,32' or '3x32x32' or '[3, 32, 32]' → (3, 32, 32)."""
    if text is None:
        return None
    parts = [p for p in re.split(r"[,x\s\[\]()]+", str(text).strip()) if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise ConfigError(f"--input-shape expects positive integers like 3,32,32 (one sample, no batch), got '{text}'")
    return shape


# --------------------------------------------------------------------------- importing


def _parameters(fn: Callable[..., Any]) -> Dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return {}


def _call_text(kwargs: Dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _import(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(f"cannot import {module} ({err}); put it on PYTHONPATH or name a FILE.py instead") from None


def _load_file(path: str):
    """Import a Python file once per process under a stable module name (so its classes pickle)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"model file not found: {path}")
    digest = hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:8]
    name = f"codesign_user_{re.sub(r'[^0-9A-Za-z_]', '_', file.stem)}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(file.parent))           # the file may import its neighbours (first while it loads)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's code can raise anything at import
        del sys.modules[name]
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"{file} failed to import ({type(err).__name__}: {first})") from None
    finally:
        sys.path.remove(str(file.parent))
    sys.path.append(str(file.parent))              # for imports inside its functions, behind everything else
    return module


# --------------------------------------------------------------------------- building and loading

def build_from_spec(spec: Dict[str, Any]) -> nn.Module:
    """A fresh model of the architecture a spec records: a factory's or a zoo model's."""
    if "factory" in spec:
        return ModelFactory(spec["factory"], dict(spec.get("kwargs") or {})).build(spec.get("in_shape"))
    from .zoo import create_model

    return create_model(spec["name"], width=spec.get("width", 1.0), in_shape=spec["in_shape"],
                        num_classes=spec["num_classes"])


def check_model_name(name: str) -> None:
    """A zoo name or factory reference that exists (unknown names fail with close matches)."""
    if is_factory(name):
        ModelFactory.parse(name).function()
    else:
        from .zoo import MODELS
        MODELS.get(name)


def zoo_name(spec: Optional[Dict[str, Any]]) -> Optional[str]:
    """The zoo model a model's spec (``codesign_spec``) records, or None for a model factory, a hand-built
    (pickled) module or an unknown model: the models ``--width`` does not apply to (:func:`build_model`)."""
    if not spec or "factory" in spec or spec.get("pickled") or not spec.get("name"):
        return None
    return str(spec["name"])


def names_model(name: str, spec: Optional[Dict[str, Any]]) -> bool:
    """``name`` (zoo name or factory reference) is the architecture ``spec`` records."""
    if not spec:
        return False
    if is_factory(name):
        return "factory" in spec and ModelFactory.parse(name).ref == spec["factory"]
    return "factory" not in spec and not spec.get("pickled") and spec.get("name") == name


def build_model(name: str, model_args: Optional[Dict[str, Any]] = None, in_shape: Optional[Sequence[int]] = None,
                num_classes: Optional[int] = None, width: Optional[float] = None) -> nn.Module:
    """``name`` (a zoo name or a factory reference) built for ``in_shape``/``num_classes``
    (default: the zoo builder's or the factory's own)."""
    if is_factory(name):
        if width not in (None, 1.0):
            raise ConfigError(f"--width applies to zoo models; give {name} its size with --model-arg")
        factory = ModelFactory.parse(name, model_args).with_data(in_shape, num_classes)
        return factory.build(in_shape)
    if model_args:
        raise ConfigError(f"--model-arg applies to model factories (FILE.py:FUNCTION); zoo model '{name}' takes "
                          f"--width")
    from .zoo import MODELS, create_model

    params = inspect.signature(MODELS.get(name)).parameters
    return create_model(name, width=1.0 if width is None else width,
                        in_shape=in_shape or params["in_shape"].default,
                        num_classes=num_classes or params["num_classes"].default)


def plain_state_dict(obj: Any) -> Optional[Dict[str, torch.Tensor]]:
    """The tensors of a plain state_dict, also inside {'state_dict': ...} / {'model': ...} (training
    scripts' checkpoints) and with DataParallel's 'module.' prefix removed; None for anything else."""
    import torch

    tensors = isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                    for k, v in obj.items())
    if tensors:
        prefix = "module."
        if all(k.startswith(prefix) for k in obj):
            return {k[len(prefix):]: v for k, v in obj.items()}
        return dict(obj)
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = plain_state_dict(obj.get(key))
            if inner is not None:
                return inner
    return None


def load_weights(model: nn.Module, state: Dict[str, torch.Tensor], source: str) -> nn.Module:
    """``state`` loaded into ``model``, whose tensors are first resized to the state's shapes (a
    grown or pruned model); a mismatch is a one-line error naming the first differing tensor."""
    from .errors import CodesignError
    from .units.resize import conform

    try:
        conform(model, state)
        model.load_state_dict(state)
    except CodesignError as err:
        raise ConfigError(f"{source} does not fit {model.codesign_spec['name']}: {err}") from None
    except (RuntimeError, ValueError) as err:
        raise ConfigError(f"{source} does not fit {model.codesign_spec['name']}: "
                          f"{(str(err).strip().splitlines() or [type(err).__name__])[0]}") from None
    return model


def load_any(path: Path, model: Optional[str] = None, model_args: Optional[Dict[str, Any]] = None,
             in_shape: Optional[Sequence[int]] = None) -> Tuple[nn.Module, Dict[str, Any]]:
    """(model in eval mode, metadata) from a codesign model file, a plain state_dict (``model``
    names the zoo model or factory it belongs to) or a pickled ``nn.Module``."""
    import torch
    import torch.nn as nn

    from .checkpoint import MODEL_FORMAT, load_model

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for corrupt files and missing classes
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if isinstance(err, ImportError) or (isinstance(err, AttributeError) and "Can't get attribute" in first):
            raise ConfigError(f"{path} holds a pickled model whose code cannot be imported here ({type(err).__name__}"
                              f": {first[:160]}): put the folder of the model's Python file on PYTHONPATH (or run "
                              f"codesign there), or save a state_dict and give --model FILE.py:FUNCTION") from None
        raise ConfigError(f"{path} is corrupt or not a model file ({type(err).__name__}: {first[:160]}); point at "
                          f"another file") from None
    if isinstance(obj, dict) and "format" in obj:
        loaded, meta = load_model(path)
        recorded = meta["model_spec"]
        same = model is None or model == recorded["name"] or (
            is_factory(model) and ModelFactory.parse(model).ref == recorded.get("factory"))
        if not same:
            raise ConfigError(f"--model {model} does not match the checkpoint {path}, which holds a "
                              f"'{recorded['name']}'; drop --model or pick the matching file")
        return loaded, meta
    if isinstance(obj, nn.Module):
        check_finite_weights(obj, f"{path}: ", "check the module pickled in the file")
        spec = getattr(obj, "codesign_spec", None)
        shape = in_shape or (spec or {}).get("in_shape")
        obj.codesign_spec = spec_of(obj, shape) if shape is not None else {"name": type(obj).__name__, "pickled": True}
        return obj.eval(), {"model_spec": obj.codesign_spec, "source": "pickled module", "format": MODEL_FORMAT}
    state = plain_state_dict(obj)
    if state is None:
        raise ConfigError(f"{path} holds a {type(obj).__name__}, not a model: give a codesign model file, a "
                          f"state_dict or a pickled torch.nn.Module")
    if model is None:
        raise ConfigError(f"{path} is not a codesign model file but a plain state_dict; name its architecture "
                          f"with --model (a zoo name or FILE.py:FUNCTION)")
    check_finite_weights(state, f"{path}: ", "check the state_dict saved in the file")
    built = build_model(model, model_args, in_shape)
    load_weights(built, state, str(path))
    shape = built.codesign_spec.get("in_shape")
    if shape is not None:                          # the weights may have another number of classes
        built.codesign_spec["num_classes"] = output_size(built, shape)
    return built.eval(), {"model_spec": built.codesign_spec, "source": "state_dict", "format": MODEL_FORMAT}
