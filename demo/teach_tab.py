"""The "Teach" tab: name 2 to 5 classes, give each 5 to 50 photos, train in seconds, try it, download it.

Everything a browser session gives or makes (its photos, features, model, downloads) belongs to that session
(demo.teach_sessions, keyed on gradio's session hash), so another session cannot list, fetch or predict with it,
and is deleted when the page closes or after teach_sessions.IDLE_SECONDS without an event. One training runs at a
time in all (a queue for the rest). The work is toolkit.teach's; this file only wires it to the page.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from gradio.context import Context
from PIL import Image

from demo import teach_sessions
from demo.photo_tab import file_of
from demo.teach_sessions import TeachSession, TeachSessions
from demo.ui_errors import user_errors
from demo.uploads import UploadGate
from toolkit.core.errors import ConvlensError
from toolkit.serving.export_loader import LoadedExport
from toolkit.serving.photo_input import open_photo
from toolkit.teach.bundle import ServedTaught, write_bundle_zip
from toolkit.teach.features import FeatureBase, load_feature_base
from toolkit.teach.project import read_project, write_project
from toolkit.teach.taught_model import UNKNOWN, TaughtModel, TeachSettings
from toolkit.teach.training import MAX_CLASSES, TrainingPhoto, featurise, teach

MAX_PHOTOS_PER_CLASS = 50
TEACH_CONCURRENCY = 1  # trainings at once, for all sessions; the others wait in the queue
COMMAND = "the Teach tab of convlens demo"


def train_session(
    session: TeachSession,
    base: FeatureBase,
    classes: list[tuple[str, list[tuple[Path, str]]]],
    background: bool,
    project: Path | None,
    progress=None,
) -> tuple[TaughtModel, list[str]]:
    """Featurise the new photos (a reopened project's are cached), train, and keep the model in the session."""
    named = [(name.strip(), files) for name, files in classes if name and name.strip()]
    labels = tuple(name for name, _ in named)
    settings = TeachSettings(background=labels[-1] if background and labels else None)
    kept: list[TrainingPhoto] = []
    if project is not None:
        old_labels, _, old = read_project(project, base.base_sha256)
        kept = [p for p in old if p.label in labels]
    else:
        kept = [p for p in session.photos if p.label in labels]
    known = {p.sha256 for p in kept}
    sources: list[tuple[object, str, str]] = []
    for name, files in named:
        if len(files) > MAX_PHOTOS_PER_CLASS:
            raise ConvlensError(f"at most {MAX_PHOTOS_PER_CLASS} photos a class: {name} has {len(files)}.")
        sources += [(path, original, name) for path, original in files]
    new, skipped = featurise(base, sources, settings, progress)
    photos = kept + [p for p in new if p.sha256 not in known]
    model = teach(base, labels, photos, settings, MAX_PHOTOS_PER_CLASS, progress)
    session.photos, session.labels, session.model = photos, labels, model
    return model, skipped


def map_file(session: TeachSession | None, picture) -> object:
    """The occlusion map as a file named with the session's token (its served copy goes with the session)."""
    if session is None:
        return picture
    path = session.folder / f"map-{session.token}.png"  # gradio serves a copy named by its content's hash
    Image.fromarray(picture).save(path)
    return str(path)


def confusion_markdown(model: TaughtModel) -> str:
    header = "| true \\ answered | " + " | ".join(model.labels) + " |\n|---|" + "---|" * len(model.labels)
    rows = [
        f"| {label} | " + " | ".join(map(str, row)) + " |"
        for label, row in zip(model.labels, model.validation.confusion)
    ]
    return "\n".join([header, *rows])


def teach_tab(models: LoadedExport, gate: UploadGate, taught: ServedTaught | None = None) -> None:
    """Builds the tab and wires its events (`taught`: a model the operator gave with `convlens demo --model`)."""
    base, unavailable = None, 'this export has no ImageNet model, which teaching needs: run "make export".'
    if models.imagenet is not None:
        try:  # an export whose ImageNet network cannot give features still serves every other tab
            base = load_feature_base(models)
        except ConvlensError as error:
            unavailable = str(error)

    sessions = TeachSessions()

    def received(session: TeachSession, payloads) -> list[tuple[Path, str]]:
        files = []
        for payload in payloads or []:
            path, name = file_of(payload)
            checked = gate.check(path)
            session.uploads.append(Path(checked))
            files.append((Path(checked), name or Path(checked).name))
        return files

    @user_errors
    def on_train(request: gr.Request, background, project, progress=gr.Progress(), *pairs) -> tuple:  # noqa: B008
        session = sessions.of(request.session_hash)
        if base is None:
            raise ConvlensError(unavailable)
        if not session.busy.acquire(blocking=False):
            raise ConvlensError("this page is already training: wait for it to finish.")
        try:
            classes = [(pairs[i], received(session, pairs[i + 1])) for i in range(0, len(pairs), 2)]
            project_path = received(session, [project])[0][0] if project else None
            model, skipped = train_session(
                session, base, classes, background, project_path, lambda share, what: progress(share, desc=what)
            )
            zip_path = write_bundle_zip(model, session.folder / f"taught-{session.token}.zip", COMMAND)
            project_out = write_project(
                session.folder / f"project-{session.token}.zip",
                model.labels,
                model.settings,
                session.photos,
                base.base_sha256,
            )
        finally:
            session.busy.release()
            sessions.find(request.session_hash)  # idle from the end of training, not its start
        for message in skipped:
            gr.Warning(message)
        cv = model.validation
        summary = (
            f"**Held-out accuracy {cv.accuracy:.0%}** ({cv.folds}-fold cross-validation over your "
            f"{len(model.photo_names)} photos; L2 {cv.l2:g}). Below a top probability of {cv.threshold:.2f} the "
            f"answer is *unknown* (the slider). {len(skipped)} photo(s) skipped."
        )
        wrong = [f"{name}: {truth}, answered {said} ({p:.0%})" for name, truth, said, p in model.wrong_photos()]
        return (
            summary,
            confusion_markdown(model),
            "\n".join(f"- {line}" for line in wrong) or "None: every photo was answered right when held out.",
            gr.Slider(value=round(cv.threshold, 3)),
            str(zip_path),
            str(project_out),
        )

    @user_errors
    def on_try(request: gr.Request, payload, threshold) -> tuple:
        session = sessions.find(request.session_hash)
        model: TaughtModel | ServedTaught | None = session.model if session is not None and session.model else taught
        if payload is None:
            return None, "", None
        if model is None:
            raise ConvlensError("train a model first (or start the demo with --model).")
        if session is not None:
            path, name = received(session, [payload])[0]
        else:
            path, name = gate.check(file_of(payload)[0]), file_of(payload)[1] or ""
        picture, notes = open_photo(path, name)
        for note in notes:
            gr.Warning(note)
        answer = model.answer(picture, threshold)
        said = "**unknown**" if answer.label == UNKNOWN else f"**{answer.label}**"
        text = f"{said} (most likely {answer.top}, {answer.probabilities[answer.top]:.0%}; threshold {threshold:.2f})"
        return answer.probabilities, text, map_file(session, answer.map_image)

    with gr.Tab("Teach", id="teach"):
        gr.Markdown(
            f"Teach the ImageNet MobileNet your own classes: name 2 to {MAX_CLASSES}, give each 5 to "
            f"{MAX_PHOTOS_PER_CLASS} photos, and train (a few seconds, no TensorFlow). Your photos and model are "
            f"this page's alone and are deleted when you leave or after {teach_sessions.IDLE_SECONDS // 60} "
            "minutes idle."
        )
        pairs = []
        for number in range(MAX_CLASSES):
            with gr.Row():
                name = gr.Textbox(label=f"Class {number + 1}", scale=1, elem_id=f"teach-name-{number}")
                files = gr.File(
                    label="Photos",
                    file_count="multiple",
                    file_types=["image"],
                    scale=3,
                    elem_id=f"teach-files-{number}",
                )
            pairs += [name, files]
        with gr.Row():
            background = gr.Checkbox(label="The last class is a background class (anything else): answer unknown")
            project = gr.File(label="Reopen a project file (optional)", file_types=[".zip"], elem_id="teach-project")
        train = gr.Button("Train", variant="primary", elem_id="teach-train")
        summary = gr.Markdown(elem_id="teach-summary")
        with gr.Row():
            confusion = gr.Markdown(elem_id="teach-confusion")
            wrong = gr.Markdown(elem_id="teach-wrong")
        with gr.Row():
            download = gr.File(
                label="Download: ONNX, model card, manifest, labels, metadata, snippet", elem_id="teach-download"
            )
            project_out = gr.File(label="Project file: reopen it to add photos", elem_id="teach-project-out")
        with gr.Row():
            with gr.Column():
                photo = gr.Image(
                    label="Try a photo", type="filepath", sources=["upload", "clipboard"], elem_id="teach-photo"
                )
                threshold = gr.Slider(
                    0,
                    1,
                    value=taught.threshold if taught else 0.5,
                    step=0.001,
                    label="Unknown below this top probability",
                    elem_id="teach-threshold",
                )
            with gr.Column():
                label = gr.Label(label="Probabilities", elem_id="teach-label")
                answer = gr.Markdown(elem_id="teach-answer")
                why = gr.Image(
                    label="Why: orange pushed toward the answer, blue away", elem_id="teach-map", interactive=False
                )

    train.click(
        on_train,
        [background, project, *pairs],
        [summary, confusion, wrong, threshold, download, project_out],
        api_name="teach_train",
        preprocess=False,
        concurrency_id="teach",
        concurrency_limit=TEACH_CONCURRENCY,
    )
    photo.change(on_try, [photo, threshold], [label, answer, why], api_name="teach_try", preprocess=False)
    threshold.release(on_try, [photo, threshold], [label, answer, why], api_visibility="private", preprocess=False)

    def on_leave(request: gr.Request) -> None:
        sessions.end(request.session_hash)

    if Context.root_block is not None:  # the page closed: its photos, model and served files go at once
        Context.root_block.unload(on_leave)
