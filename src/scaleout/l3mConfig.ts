/**
 * An ml-l3m experiment config (apple/ml-l3m, configs/aimv1/001_aim_v1_600M.yaml's schema: the
 * constants, transforms, generators, data, optim with its fvcore scheduler, model, loss and
 * experiment sections with their `_target_`s) from an `L3mSpec`: every number the AIM v1
 * recipe sets, named. `recipeSpec` is the published recipe; src/scaleout/fromRun.ts makes a
 * spec from a playground run.
 *
 * A non-raster ordering needs two ml-l3m ReadWriteBlocks that permute the tokens (see
 * orderingExtension.ts): ml-l3m's RasterPixelLoss can permute outputs and targets, but its
 * trunk's prefix-causal mask is always in raster order, so the loss alone would let a token
 * see the patch it predicts.
 */
import { float, type YamlMap, type YamlValue } from './yaml';

export interface L3mSpec {
  width: number;
  depth: number;
  heads: number;
  /** 'mlp': ml-l3m's SimpleDecoder; 'none': its decoder_pred alone on the trunk's tokens. */
  headKind: 'mlp' | 'none';
  headWidth: number;
  headDepth: number;
  /** Targets normalised per patch (ml-l3m's norm_pix_loss) or raw pixels. */
  normPixLoss: boolean;
  imageSize: number;
  patchSize: number;
  /** LayerNorm ε of the patch norm, trunk blocks and post-trunk norm; and of the head. */
  trunkNormEps: number;
  headNormEps: number;
  batchPerGpu: number;
  gradientAccumulation: number;
  seed: number;
  /** [1, K − 1]: prefix attention; [1, 1]: the causal baseline. */
  prefixRange: [number, number];
  cropScale: [number, number];
  colorJitter: boolean;
  lr: number;
  warmupStartLr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  wdExclude: string[];
  gradClip: number;
  warmupFraction: number;
  totalIterations: number;
  ckptSaveFreq: number;
  testFrequency: number;
  dtype: 'bfloat16' | 'float32';
  dataTrain: string;
  dataVal: string;
  /** A warm-start state dict (ml-l3m's `model.checkpoint`), or null. */
  checkpoint: string | null;
  /** The prediction order as raster indices, when it is not raster. */
  order: number[] | null;
  /** The Python module that holds the ordering blocks (orderingExtension.ts). */
  orderingModule: string;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
const BICUBIC = 3;

/** The published AIM v1 600M recipe (its trunk size comes from `preset`). */
export function recipeSpec(
  preset: { width: number; depth: number; heads: number },
  data = { train: '/mnt/data/imagenet/train', val: '/mnt/data/imagenet/val' },
): L3mSpec {
  return {
    width: preset.width,
    depth: preset.depth,
    heads: preset.heads,
    headKind: 'mlp',
    headWidth: 2048,
    headDepth: 12,
    normPixLoss: true,
    imageSize: 224,
    patchSize: 14,
    trunkNormEps: 1e-5,
    headNormEps: 1e-5,
    batchPerGpu: 256,
    gradientAccumulation: 1,
    seed: 0,
    prefixRange: [1, 255],
    cropScale: [0.4, 1.0],
    colorJitter: true,
    lr: 1e-3,
    warmupStartLr: 1e-6,
    betas: [0.9, 0.95],
    eps: 1e-8,
    weightDecay: 0.05,
    wdExclude: ['*bias*', '*pos_embed*', '*norm*', '*gamma*'],
    gradClip: 1.0,
    warmupFraction: 0.025,
    totalIterations: 125_000,
    ckptSaveFreq: 25_000,
    testFrequency: 25_000,
    dtype: 'bfloat16',
    dataTrain: data.train,
    dataVal: data.val,
    checkpoint: null,
    order: null,
    orderingModule: 'playground_orderings',
  };
}

const target = (name: string, rest: YamlMap = {}): YamlMap => ({ _target_: name, ...rest });
const partial = (name: string, rest: YamlMap = {}): YamlMap =>
  target(name, { _partial_: true, ...rest });
const layerNorm = (eps: number) => partial('l3m.model.layers.normalization.LayerNormFP32', { eps });
const normalize = () =>
  target('torchvision.transforms.Normalize', { mean: IMAGENET_MEAN, std: IMAGENET_STD });

/** ml-aim's evaluation resize: the shorter side to ceil(size / 0.875) (256 for 224). */
export function evalResize(imageSize: number): number {
  return Math.ceil(imageSize / 0.875 - 1e-9);
}

function constants(s: L3mSpec): YamlMap {
  const numPatches = (s.imageSize / s.patchSize) ** 2;
  const train: YamlValue[] = [
    target('torchvision.transforms.RandomResizedCrop', {
      size: '${constants.img_size}',
      scale: s.cropScale.map(float),
      interpolation: BICUBIC,
    }),
    target('torchvision.transforms.RandomHorizontalFlip'),
  ];
  if (s.colorJitter) {
    train.push(
      target('torchvision.transforms.RandomApply', {
        p: 0.8,
        transforms: [
          target('torchvision.transforms.ColorJitter', {
            brightness: 0.4,
            contrast: 0.4,
            saturation: 0.2,
            hue: 0.1,
          }),
        ],
      }),
    );
  }
  train.push(target('torchvision.transforms.ToTensor'), normalize());
  const masking = 'l3m.helpers.vision.mask_generator.RandomRasterMasking';
  const out: YamlMap = {
    vision_embed_dim: s.width,
    vision_num_blocks: s.depth,
    vision_num_heads: s.heads,
    head_embed_dim: s.headKind === 'mlp' ? s.headWidth : s.width,
    head_num_blocks: s.headDepth,
    img_size: s.imageSize,
    batch_size_per_gpu: s.batchPerGpu,
    patch_size: s.patchSize,
    num_patches: numPatches,
    seed: s.seed,
    prefix_range: s.prefixRange,
  };
  if (s.order) out.patch_order = s.order;
  return {
    ...out,
    train_transform: target('torchvision.transforms.Compose', { transforms: train }),
    eval_transform: target('torchvision.transforms.Compose', {
      transforms: [
        target('torchvision.transforms.Resize', {
          size: evalResize(s.imageSize),
          interpolation: BICUBIC,
        }),
        target('torchvision.transforms.CenterCrop', { size: '${constants.img_size}' }),
        target('torchvision.transforms.ToTensor'),
        normalize(),
      ],
    }),
    train_generators: [
      target(masking, {
        write_key: 'encoder_prefix_mask',
        num_patches: '${constants.num_patches}',
        prefix_range: '${constants.prefix_range}',
      }),
    ],
    eval_generators: [
      target(masking, {
        write_key: 'encoder_prefix_mask',
        num_patches: '${constants.num_patches}',
        force_full_attn: true,
      }),
    ],
  };
}

function dataloader(): YamlMap {
  return partial('torch.utils.data.DataLoader', {
    batch_size: '${constants.batch_size_per_gpu}',
    num_workers: 10,
    pin_memory: true,
    drop_last: true,
  });
}

function dataset(generators: string, root: string, transform: string): YamlMap {
  return target('l3m.data.dataset_with_generator.DatasetWithGenerator', {
    generators,
    base_dataset: target('l3m.data.vision.datasets.image_folder.CustomImageFolder', {
      root,
      transform,
    }),
  });
}

function data(s: L3mSpec): YamlMap {
  return {
    data_set: ['imagenet'],
    data_path: null,
    nb_classes: 1000,
    train: {
      dataset: dataset(
        '${constants.train_generators}',
        s.dataTrain,
        '${constants.train_transform}',
      ),
      dataloader: dataloader(),
    },
    validation: {
      dataset: {
        imagenet: dataset('${constants.eval_generators}', s.dataVal, '${constants.eval_transform}'),
      },
      dataloader: dataloader(),
    },
  };
}

function optim(s: L3mSpec): YamlMap {
  const fv = 'fvcore.common.param_scheduler';
  return {
    gradient_accumulation_steps: s.gradientAccumulation,
    grad_clip: float(s.gradClip),
    optimizer: partial('torch.optim.AdamW', {
      lr: float(s.lr),
      betas: s.betas.map(float),
      eps: float(s.eps),
      weight_decay: float(s.weightDecay),
      fused: true,
    }),
    wd_exclude: s.wdExclude,
    scheduler: target(`${fv}.CompositeParamScheduler`, {
      schedulers: [
        target(`${fv}.LinearParamScheduler`, {
          start_value: float(s.warmupStartLr),
          end_value: '${optim.optimizer.lr}',
        }),
        target(`${fv}.CosineParamScheduler`, {
          start_value: '${optim.optimizer.lr}',
          end_value: float(0),
        }),
      ],
      interval_scaling: ['rescaled', 'rescaled'],
      lengths: [float(s.warmupFraction), float(1 - s.warmupFraction)],
    }),
  };
}

function model(s: L3mSpec): YamlMap {
  const permute = (inverse: boolean): YamlMap =>
    target(`${s.orderingModule}.PermuteTokens`, {
      read_key: 'image_tokens',
      write_key: 'image_tokens',
      order: '${constants.patch_order}',
      inverse,
    });
  const preprocessorBlocks: YamlValue[] = [
    target('l3m.model.preprocessors.vision.ViTPreprocessor', {
      read_key: 'image',
      write_key: 'image_tokens',
      patchifier: target('l3m.model.preprocessors.vision.PatchEmbed', {
        img_size: '${constants.img_size}',
        patch_size: '${constants.patch_size}',
        in_chans: 3,
        embed_dim: '${constants.vision_embed_dim}',
        norm_layer: layerNorm(s.trunkNormEps),
      }),
      pos_embed_type: 'sincos',
      drop_patches: false,
      cls_token: false,
    }),
    ...(s.order ? [permute(false)] : []),
    target('l3m.model.preprocessors.mask_builders.FlexAttnPrefixAttentionMaskBuilder', {
      read_key: 'encoder_prefix_mask',
      write_key: 'encoder_prefix_attn_mask',
    }),
  ];
  return {
    checkpoint: s.checkpoint,
    meta_model: target('l3m.model.meta_models.MetaModel', {
      preprocessor: target('l3m.model.utils.MultiBlock', { blocks: preprocessorBlocks }),
      trunk: target('l3m.model.trunks.transformer.Transformer', {
        read_key: 'image_tokens',
        write_key: 'image_tokens',
        self_attn_mask_read_key: 'encoder_prefix_attn_mask',
        embed_dim: '${constants.vision_embed_dim}',
        num_blocks: '${constants.vision_num_blocks}',
        mlp_ratio: 4,
        norm_layer: layerNorm(s.trunkNormEps),
        attn_target: partial('l3m.model.layers.attention.GenericAttention', {
          dim: '${constants.vision_embed_dim}',
          num_heads: '${constants.vision_num_heads}',
          qkv_bias: false,
          use_flex_attention: true,
        }),
        weight_init_style: 'xavier_uniform',
        post_trunk_norm: true,
        use_bias: false,
      }),
      postprocessor: s.order ? permute(true) : target('torch.nn.Identity'),
      head: target('l3m.model.heads.simple_decoder.SimpleDecoder', {
        read_key: 'image_tokens',
        write_key: 'image_preds',
        attn_target: partial('l3m.model.layers.misc.GenericIdentity'),
        input_dim: '${constants.vision_embed_dim}',
        embed_dim: '${constants.head_embed_dim}',
        output_dim: s.patchSize * s.patchSize * 3,
        num_layers: '${constants.head_num_blocks}',
        mlp_ratio: 4,
        norm_layer: layerNorm(s.headNormEps),
        use_bias: false,
        patch_size: '${constants.patch_size}',
        image_size: '${constants.img_size}',
        // No head (the paper's Table 3e "none"): decoder_pred alone on the trunk's tokens.
        ...(s.headKind === 'none'
          ? { skip_projection: true, disable_pos_embed: true, post_decoder_norm: false }
          : {}),
      }),
    }),
  };
}

function loss(s: L3mSpec): YamlMap {
  const out: YamlMap = target('l3m.loss.mae_loss.RasterPixelLoss', {
    read_key: 'image_preds',
    norm_pix_loss: s.normPixLoss,
    mask_read_key: 'encoder_prefix_mask',
    patch_size: '${constants.patch_size}',
  });
  // The loss cuts targets into patches on its own grid (224 px unless told).
  if (s.imageSize !== 224 || s.order) out.image_size = '${constants.img_size}';
  if (s.order) {
    // Outputs come back in raster order (the postprocessor); the loss puts outputs and
    // targets into the prediction order before comparing position t with t + 1.
    out.autoregressive_pattern_getter = partial(`${s.orderingModule}.fixed_order`, {
      order: '${constants.patch_order}',
    });
  }
  return out;
}

function experiment(s: L3mSpec, outputDir: string | null): YamlMap {
  return {
    start_iteration: 0,
    total_iterations: s.totalIterations,
    ckpt_save_freq: s.ckptSaveFreq,
    test_frequency: s.testFrequency,
    torch_compile: true,
    dtype: s.dtype,
    output_dir: outputDir,
    device: 'cuda',
    find_unused_parameters: false,
    seed: '${constants.seed}',
    dist_eval: true,
    distributed: false,
    world_size: 1,
    dist_url: 'env://',
    eval: false,
    resume: null,
    amp_enabled: s.dtype !== 'float32',
    no_sync_gradient_accumulation: false,
    fsdp: {
      sharding_strategy: 'NO_SHARD',
      param_dtype: s.dtype === 'float32' ? 'fp32' : 'bf16',
      reduce_dtype: 'fp32',
      buffer_dtype: 'fp32',
      fsdp_activation_checkpointing: true,
      nccl_timeout_mins: 120,
      activation_checkpoint_mode: 'full',
      fsdp_layers_to_wrap: ['Block'],
      activation_checkpoint_template: ['trunk.blocks'],
      fsdp_ignored_modules: [''],
    },
  };
}

/** The config as a YAML mapping (sections in ml-l3m's order). */
export function l3mExperiment(s: L3mSpec, opts: { outputDir?: string | null } = {}): YamlMap {
  const l = loss(s);
  return {
    constants: constants(s),
    data: data(s),
    optim: optim(s),
    model: model(s),
    loss: l,
    val_loss: { ...l },
    experiment: experiment(s, opts.outputDir ?? null),
    wandb: { use_wandb: false, watch_freq: 500, project: 'l3m', tags: ['aimv1', 'aim-playground'] },
  };
}
