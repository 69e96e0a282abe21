"""A tiny BERT classifier with a real PEFT LoRA and a transformers.Trainer around it, for monitor tests.

Everything is built from configs (no downloads) and trains in about a second on a CPU.
"""

from __future__ import annotations

N_EXAMPLES = 32
TARGETS = ["query", "value"]


def tiny_peft_model(seed: int = 0, **lora):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=32, num_labels=2)  # fmt: skip
    base = BertForSequenceClassification(cfg)
    kw = {"r": 4, "lora_alpha": 8, "target_modules": TARGETS, "task_type": "SEQ_CLS", **lora}
    return get_peft_model(base, LoraConfig(**kw))


def tiny_dataset(n: int = N_EXAMPLES, length: int = 12) -> list[dict]:
    import torch

    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 64, (n, length), generator=g)
    labels = (ids[:, 0] > 32).long()  # learnable: the first token decides
    return [{"input_ids": ids[i], "attention_mask": torch.ones(length, dtype=torch.long),
             "labels": labels[i]} for i in range(n)]  # fmt: skip


def training_args(out, **kw):
    from transformers import TrainingArguments

    base = dict(output_dir=str(out), max_steps=12, per_device_train_batch_size=8, learning_rate=5e-3,
                logging_steps=3, save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True,
                seed=7, dataloader_num_workers=0)  # fmt: skip
    base.update(kw)
    return TrainingArguments(**base)


def make_trainer(model, out, callbacks=(), optimizers=(None, None), **kw):
    from transformers import Trainer

    return Trainer(model=model, args=training_args(out, **kw), train_dataset=tiny_dataset(),
                   callbacks=list(callbacks), optimizers=optimizers)  # fmt: skip
